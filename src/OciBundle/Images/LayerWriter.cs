using System.Formats.Tar;
using OciBundle.Model;
using OciBundle.Rootfs;
using OciBundle.Storage;

namespace OciBundle.Images;

/// <summary>
/// The layers of an image into its store, side by side: each one unchanged since the last publish (same fingerprint,
/// its blob as written) is linked from the previous layout without reading a file; the others are written, each by a
/// thread of its own that reads and tars while the thread pool compresses (<see cref="ChunkedCompressor"/>). The tar
/// is hashed as it is made (the <c>diff_id</c>), the compressed bytes as they are stored (the digest), each once.
/// </summary>
internal static class LayerWriter
{
    public static IReadOnlyList<LayerResult> WriteAll(List<(string Name, List<RootfsEntry> Entries)> layers, BlobStore store, ImageRequest request)
    {
        var results = new LayerResult?[layers.Count];
        // One limit for every layer's chunks: the cores, never layers times cores; and at most 16 chunks queued per layer.
        using var cores = new SemaphoreSlim(Math.Max(1, request.Parallelism));
        var threads = new List<Thread>();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<LayerFailure>();
        for (int i = 0; i < layers.Count; i++)
        {
            (string name, List<RootfsEntry> entries) = layers[i];
            string? fingerprint = ImageLayoutWriter.Fingerprint(entries, request);
            if (fingerprint is not null && request.Reusable?.GetValueOrDefault(fingerprint) is { } old && store.Adopt(old.BlobPath, old.Digest, old.Size, old.BlobIdentity))
            {
                results[i] = new LayerResult(name, old.Digest, old.Size, old.DiffId, fingerprint, Reused: true);
                continue;
            }

            int index = i;
            var thread = new Thread(() =>
            {
                try
                {
                    request.Cancel.ThrowIfCancellationRequested();
                    (string digest, long size, string diffId) = Write(entries, store, request, cores);
                    results[index] = new LayerResult(name, digest, size, diffId, fingerprint, Reused: false);
                }
                catch (Exception e)
                {
                    errors.Enqueue(new LayerFailure(index, e));
                }
            })
            { IsBackground = true, Name = "OciBundle layer: " + name };
            thread.Start();
            threads.Add(thread);
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        if (!errors.IsEmpty)
        {
            // The first layer's (not the first thread's: the same failure reads the same every time) that is not a
            // cancellation says most; rethrown as it was (an IOException stays one).
            Exception first = errors.OrderBy(e => e.Layer).Select(e => e.Error).FirstOrDefault(e => e is not OperationCanceledException) ?? errors.OrderBy(e => e.Layer).First().Error;
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
        }

        return results.Select(r => r!).ToList();
    }

    /// <summary>Writes one layer: tar (hashed for the diff_id) into chunked compression into a blob of the store (hashed for the digest).</summary>
    private static (string Digest, long Size, string DiffId) Write(List<RootfsEntry> entries, BlobStore store, ImageRequest request, SemaphoreSlim cores)
    {
        using BlobWriter blob = store.BeginPut();
        string diffId;
        using (var compressor = new ChunkedCompressor(blob.Stream, request.Compression, Math.Clamp(request.Parallelism, 1, 16), cores, TarSize(entries)))
        {
            using var tarStream = new HashingStream(compressor, leaveOpen: true);
            using (var tar = new TarWriter(tarStream, TarEntryFormat.Gnu, leaveOpen: true))
            {
                DateTimeOffset time = DateTimeOffset.FromUnixTimeSeconds(request.Epoch);
                foreach (RootfsEntry e in entries)
                {
                    request.Cancel.ThrowIfCancellationRequested();
                    WriteEntry(tar, e, time);
                }
            }

            compressor.Finish();
            diffId = tarStream.Digest();
        }

        (string digest, long size) = blob.Commit(); // two identical layers (written side by side): one blob
        return (digest, size, diffId);
    }

    /// <summary>
    /// About how large the layer's tar is: a 512-byte header per entry (GNU long names add more), each file's data
    /// padded to 512, and the two empty records at the end. A hint for the compressor's first buffer only.
    /// </summary>
    private static long TarSize(List<RootfsEntry> entries)
    {
        long size = 1024;
        foreach (RootfsEntry e in entries)
        {
            size += 512 + (e.Kind == RootfsEntryKind.File ? (e.Size + 511) / 512 * 512 : 0) + (e.Path.Length >= 100 ? 1024 : 0);
        }

        return size;
    }

    private static void WriteEntry(TarWriter tar, RootfsEntry e, DateTimeOffset time)
    {
        string name = e.Path.TrimStart('/') + (e.Kind == RootfsEntryKind.Directory ? "/" : "");
        TarEntryType type = e.Kind switch
        {
            RootfsEntryKind.Directory => TarEntryType.Directory,
            RootfsEntryKind.Symlink => TarEntryType.SymbolicLink,
            _ => TarEntryType.RegularFile,
        };
        var entry = new GnuTarEntry(type, name)
        {
            // No atime or ctime: GNU tar keeps them where POSIX has the name prefix, and POSIX readers (Python's
            // tarfile, for one) then read every name as "<atime digits>/app/...". Left unset, both fields are NULs.
            ModificationTime = time,
            Mode = e.Mode,
            Uid = e.OwnerId ?? 0,
            Gid = e.GroupId ?? e.OwnerId ?? 0,
            UserName = "",
            GroupName = "",
        };
        if (e.Kind == RootfsEntryKind.Symlink)
        {
            entry.LinkName = e.LinkTarget!;
            tar.WriteEntry(entry);
        }
        else if (e.Kind == RootfsEntryKind.File)
        {
            using Stream data = e.Content is not null
                ? new MemoryStream(e.Content, writable: false)
                : new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(FileCopier.OpenSource(e.SourcePath!, e.SourceInode, e.PublicSource), ownsHandle: true), FileAccess.Read, 1 << 16);
            entry.DataStream = data;
            tar.WriteEntry(entry);
        }
        else
        {
            tar.WriteEntry(entry);
        }
    }
}

/// <summary>A layer's thread's failure, by the layer's place (a class: a framework queue of a value type is compiled on every publish).</summary>
internal sealed record LayerFailure(int Layer, Exception Error);
