using System.Collections.Concurrent;
using System.Security.Cryptography;
using OciBundle.Model;
using OciBundle.Storage;

namespace OciBundle.Spdx;

/// <summary>
/// Hashes every file of a plan for the SBOM, on all cores, reading each once for both algorithms. A source whose
/// identity (inode, size, ctime, mtime) is what it was when the last publish hashed it is not read again: an app
/// change re-hashes the app, not the 120 MB of runtime and libraries beside it.
/// </summary>
internal static class FileDigests
{
    /// <param name="plan">The files to hash: copied ones by their source, generated ones by their bytes.</param>
    /// <param name="identities">The identity of each source now (<c>path &lt;source&gt;</c>, as the plan's inputs record it).</param>
    /// <param name="known">What the last publish computed: source path to "identity\tdigest".</param>
    /// <param name="cache">The machine's digest cache (<c>OciBundleCacheDir</c>), or null.</param>
    /// <param name="cancel">Ctrl+C.</param>
    /// <param name="threads">How many threads hash at once: all cores, or fewer beside a plan that goes on.</param>
    /// <returns>By rootfs path; and the sources' digests with their identities, for the next publish.</returns>
    public static (IReadOnlyDictionary<string, FileDigest> ByPath, IReadOnlyDictionary<string, string> BySource) Compute(
        IEnumerable<RootfsEntry> plan, IReadOnlyDictionary<string, string> identities, IReadOnlyDictionary<string, string>? known, DigestCache? cache, CancellationToken cancel, int threads = 0)
    {
        var byPath = new ConcurrentDictionary<string, FileDigest>(StringComparer.Ordinal);
        var bySource = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        var files = plan.Where(e => e.Kind == RootfsEntryKind.File).ToList();
        var folders = new ConcurrentDictionary<string, Lazy<Dictionary<string, KnownDigest>>>(StringComparer.Ordinal);
        var hashed = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        Dictionary<string, KnownDigest> Cached(string folder) =>
            folders.GetOrAdd(folder, f => new Lazy<Dictionary<string, KnownDigest>>(() => cache!.Read(f))).Value;
        // What the last publish or the cache knows by identity is taken in one pass on this thread; only the rest is
        // read, on all cores. After an app change that is a few files: a loop of a few hundred look-ups is quicker
        // alone than spread over threads a loaded machine may not schedule.
        var toHash = new List<Pending>();
        foreach (RootfsEntry file in files)
        {
            cancel.ThrowIfCancellationRequested();
            if (file.Content is not null)
            {
                byPath[file.Path] = new FileDigest(Hex(SHA1.HashData(file.Content)), Hex(SHA256.HashData(file.Content)));
                continue;
            }

            string source = file.SourcePath!;
            string identity = identities.TryGetValue("path " + source, out string? id) ? id : State.InputLedger.PathIdentity(source);
            if (known is not null && known.TryGetValue(source, out string? recorded) && recorded.Split('\t') is [var was, var text]
                && was == identity && FileDigest.Parse(text) is { } reused)
            {
                byPath[file.Path] = reused;
                bySource[source] = recorded;
                continue;
            }

            string folder = Path.GetDirectoryName(source)!, name = Path.GetFileName(source);
            if (cache is not null && Cached(folder).TryGetValue(name, out var entry) && entry.Identity == identity)
            {
                byPath[file.Path] = entry.Digest;
                bySource[source] = identity + "\t" + entry.Digest;
                continue;
            }

            toHash.Add(new Pending(file, identity));
        }

        void HashOne(Pending item)
        {
            string source = item.File.SourcePath!;
            FileDigest digest = Hash(item.File);
            byPath[item.File.Path] = digest;
            bySource[source] = item.Identity + "\t" + digest;
            hashed[Path.GetDirectoryName(source)!] = true;
        }

        HashAll(toHash, HashOne, threads > 0 ? threads : Math.Max(2, Environment.ProcessorCount), cancel);

        // Remember what was hashed, beside what the cache held for the folder's other files (other projects use them).
        foreach (string folder in cache is null ? Enumerable.Empty<string>() : hashed.Keys)
        {
            var entries = new Dictionary<string, KnownDigest>(Cached(folder), StringComparer.Ordinal);
            foreach (string source in bySource.Keys.Where(s => Path.GetDirectoryName(s) == folder))
            {
                string[] parts = bySource[source].Split('\t');
                if (FileDigest.Parse(parts[1]) is { } digest)
                {
                    entries[Path.GetFileName(source)] = new KnownDigest(parts[0], digest);
                }
            }

            cache!.Write(folder, entries);
        }

        return (byPath, bySource);
    }

    /// <summary>Hashes the files on all cores; a few small ones (an app change's) on this thread, with no workers started.</summary>
    private static void HashAll(List<Pending> toHash, Action<Pending> hashOne, int threads, CancellationToken cancel)
    {
        if (threads > 1 && (toHash.Count > FewFiles || toHash.Sum(p => p.File.Size) > FewBytes))
        {
            try
            {
                Parallel.ForEach(toHash, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = cancel }, hashOne);
            }
            catch (AggregateException e)
            {
                // The first failure as itself (as the one-thread loop below gives it), not as a wrapper.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            }

            return;
        }

        foreach (Pending item in toHash)
        {
            cancel.ThrowIfCancellationRequested();
            hashOne(item);
        }
    }

    /// <summary>Up to this many files (an app change's), of up to <see cref="FewBytes"/> in all, are hashed on the calling thread.</summary>
    private const int FewFiles = 64;

    /// <summary>Files of up to this many bytes in all are hashed on the calling thread (a few milliseconds).</summary>
    private const long FewBytes = 8 << 20;

    /// <summary>A file to hash and its source's identity now.</summary>
    private sealed record Pending(RootfsEntry File, string Identity);

    /// <summary>
    /// The file's SHA-1 and SHA-256, read from the very inode the plan saw, as the writers copy it
    /// (<see cref="Rootfs.FileCopier.OpenSource"/>): never through a link or a FIFO swapped in since (the open would block
    /// the plan for good), and never another file's bytes under the planned name.
    /// </summary>
    private static FileDigest Hash(RootfsEntry file)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        HashSource(file.SourcePath!, file.SourceInode, file.PublicSource, sha1, sha256);
        return new FileDigest(Hex(sha1.GetHashAndReset()), Hex(sha256.GetHashAndReset()));
    }

    /// <summary>
    /// Feeds the bytes of <paramref name="source"/> to <paramref name="hashes"/>, opened as the writers open a source
    /// (<see cref="Rootfs.FileCopier.OpenSource"/>: the inode <paramref name="inode"/>, never through a link, never
    /// waiting on a FIFO) and read once for all of them, in 64 KiB steps: as fast as 1 MiB (the kernel reads ahead
    /// either way), and off the large object heap, whose first megabytes in MSBuild's young process bring a
    /// collection of every generation into the publish.
    /// </summary>
    internal static void HashSource(string source, ulong inode, bool mustBePublic, params IncrementalHash[] hashes)
    {
        using var stream = new FileStream(
            new Microsoft.Win32.SafeHandles.SafeFileHandle(Rootfs.FileCopier.OpenSource(source, inode, mustBePublic), ownsHandle: true),
            FileAccess.Read,
            bufferSize: 0);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                foreach (IncrementalHash hash in hashes)
                {
                    hash.AppendData(buffer, 0, read);
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string Hex(byte[] hash) => Convert.ToHexString(hash).ToLowerInvariant();
}
