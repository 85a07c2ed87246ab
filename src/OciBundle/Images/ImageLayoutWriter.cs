using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Outputs;
using OciBundle.Rootfs;
using OciBundle.Interop;
using OciBundle.Model;

namespace OciBundle.Images;

/// <summary>What an image is made of besides the root file system: the process, the labels, where it goes. No defaults: all from the request.</summary>
internal sealed record ImageRequest
{
    public required string Directory { get; init; }
    public required string Tag { get; init; }

    /// <summary>The image's full name (<c>registry/repository:tag</c>, <c>localhost/repository:tag</c> with no registry): the <c>io.containerd.image.name</c> annotation that containerd and podman name an imported image by.</summary>
    public required string Name { get; init; }
    public required string? ArchivePath { get; init; }
    public required string Architecture { get; init; }
    public required IReadOnlyList<string> Entrypoint { get; init; }

    /// <summary><c>Cmd</c>: the arguments an engine appends to the entry point when the run gives none (<c>OciImageDefaultArgs</c>).</summary>
    public IReadOnlyList<string> DefaultArgs { get; init; } = Array.Empty<string>();
    public required IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; }
    public required string WorkingDirectory { get; init; }
    public required string User { get; init; }
    public required IReadOnlyDictionary<string, string> Labels { get; init; }

    /// <summary>More annotations of the manifest (the sysroot's digest), beside <c>org.opencontainers.image.created</c>.</summary>
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
    public required IReadOnlyCollection<string> ExposedPorts { get; init; }

    /// <summary>Paths in the app folder that come from the .NET runtime pack (a self-contained app's runtime).</summary>
    public required IReadOnlySet<string> RuntimeFiles { get; init; }

    /// <summary>Every timestamp in the layers and the layout (<c>SOURCE_DATE_EPOCH</c>, 1980-01-01 by default).</summary>
    public required long Epoch { get; init; }

    /// <summary>The image's <c>created</c> (config, history, manifest annotation): the commit's time; null for <see cref="Epoch"/>.</summary>
    public long? Created { get; init; }

    /// <summary>The SBOM's path in rootfs and its digest, named in the manifest's annotations; null without an SBOM.</summary>
    public (string Path, string Digest)? Sbom { get; init; }

    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Receives warnings (leftovers of earlier publishes that cannot be removed).</summary>
    public Action<OciBundleException>? Warn { get; init; }

    /// <summary>What the last publish wrote in the layout folder (relative paths), when known: anything else there is kept, not deleted.</summary>
    public IReadOnlySet<string>? PreviousEntries { get; init; }

    /// <summary>Stops the write before the swap, leaving the previous layout.</summary>
    public CancellationToken Cancel { get; init; }

    /// <summary>How layers are compressed (<c>OciImageLayerCompression</c>).</summary>
    public LayerCompression Compression { get; init; } = LayerCompression.Gzip;

    /// <summary>How many chunks of a layer are compressed at once. The bytes written never depend on it.</summary>
    public int Parallelism { get; init; } = System.Environment.ProcessorCount;

    /// <summary>
    /// The identity of a file's source as the plan recorded it (<see cref="State.InputLedger"/>), to know a layer
    /// unchanged without reading it; null when unknown (then the layer is written).
    /// </summary>
    public Func<RootfsEntry, string?>? SourceIdentity { get; init; }

    /// <summary>Layers of the previous publish of this layout, by fingerprint, that may be reused as they are.</summary>
    public IReadOnlyDictionary<string, ReusableLayer>? Reusable { get; init; }
}

/// <summary>A layer blob of the previous layout and the identity it had when written: reused only if it still has it.</summary>
internal sealed record ReusableLayer(string Digest, string DiffId, long Size, string BlobPath, string BlobIdentity);

/// <summary>One layer written (or reused): its digests, size, and the fingerprint of what it was made from (null: none).</summary>
internal sealed record LayerResult(string Name, string Digest, long Size, string DiffId, string? Fingerprint, bool Reused);

/// <summary>The digests of what was written, for the summary line and for tests.</summary>
internal sealed record ImageResult(string ManifestDigest, IReadOnlyList<(string Name, string Digest, long Size)> Layers)
{
    /// <summary>Every layer in full, with whether it was reused.</summary>
    public IReadOnlyList<LayerResult> Details { get; init; } = Array.Empty<LayerResult>();
}

/// <summary>
/// Writes an OCI image layout (image-spec v1.1: <c>oci-layout</c>, <c>index.json</c>, <c>blobs/sha256/</c>) from the
/// same planned root file system as the bundle, with no base image. The layers are split so that an app change
/// re-ships only the app: system files (libraries, data, accounts), the .NET runtime, the app. Each layer is a
/// gzip-compressed tar with sorted entries, fixed timestamps, and the bundle's modes and owners, so the same inputs
/// give the same manifest digest.
/// </summary>
internal static class ImageLayoutWriter
{
    public const string ManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
    public const string IndexMediaType = "application/vnd.oci.image.index.v1+json";
    public const string ConfigMediaType = "application/vnd.oci.image.config.v1+json";
    public const string LayerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string ZstdLayerMediaType = "application/vnd.oci.image.layer.v1.tar+zstd";

    /// <summary>Whether a text is a digest as this product writes one (<c>sha256:</c> and 64 lowercase hex digits): only such a text names a blob.</summary>
    public static bool IsSha256Digest(string digest) =>
        digest.Length == 71 && digest.StartsWith("sha256:", StringComparison.Ordinal) && digest.AsSpan(7).IndexOfAnyExcept("0123456789abcdef") < 0;

    public static string MediaTypeOf(LayerCompression compression) => compression == LayerCompression.Zstd ? ZstdLayerMediaType : LayerMediaType;

    public static ImageResult Write(RootfsPlan plan, ImageRequest request)
    {
        List<(string Name, List<RootfsEntry> Entries)> layers = Split(plan, request);
        try
        {
            using var staged = new StagedDirectory(request.Directory, request.LockTimeout, OutputKind.Image, request.Warn, request.PreviousEntries);
            string blobs = Path.Combine(staged.StagingPath, "blobs", "sha256");
            System.IO.Directory.CreateDirectory(blobs);

            IReadOnlyList<LayerResult> written = WriteLayers(layers, blobs, request);

            string created = DateTimeOffset.FromUnixTimeSeconds(request.Created ?? request.Epoch).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            var config = new JObject
            {
                ["created"] = created,
                ["architecture"] = request.Architecture,
                ["os"] = "linux",
                ["config"] = ImageConfig(request),
                ["rootfs"] = new JObject { ["type"] = "layers", ["diff_ids"] = new JArray(written.Select(l => l.DiffId)) },
                ["history"] = new JArray(written.Select(l => new JObject { ["created"] = created, ["created_by"] = "OciBundle.Sdk: " + l.Name })),
            };
            (string configDigest, long configSize) = WriteBlob(blobs, Serialize(config));

            var manifest = new JObject
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = ManifestMediaType,
                ["config"] = Descriptor(ConfigMediaType, configDigest, configSize),
                ["layers"] = new JArray(written.Select(l => Descriptor(MediaTypeOf(request.Compression), l.Digest, l.Size))),
                ["annotations"] = ManifestAnnotations(request, created),
            };
            (string manifestDigest, long manifestSize) = WriteBlob(blobs, Serialize(manifest));

            JObject manifestDescriptor = Descriptor(ManifestMediaType, manifestDigest, manifestSize);
            manifestDescriptor["platform"] = new JObject { ["architecture"] = request.Architecture, ["os"] = "linux" };
            // ref.name is the tag, as the image spec says (skopeo's oci:<dir>:<tag> finds it by that); containerd's
            // import and podman's oci-archive: name the image by io.containerd.image.name, as buildkit writes it.
            manifestDescriptor["annotations"] = new JObject
            {
                ["io.containerd.image.name"] = request.Name,
                ["org.opencontainers.image.ref.name"] = request.Tag,
            };
            var index = new JObject
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = IndexMediaType,
                ["manifests"] = new JArray(manifestDescriptor),
            };
            File.WriteAllBytes(Path.Combine(staged.StagingPath, "index.json"), Serialize(index));
            File.WriteAllBytes(Path.Combine(staged.StagingPath, "oci-layout"), Serialize(new JObject { ["imageLayoutVersion"] = "1.0.0" }));
            File.WriteAllBytes(Path.Combine(staged.StagingPath, OutputFolder.MarkerName), OutputFolder.Marker(OutputKind.Image));
            FixTimes(staged.StagingPath, request.Epoch);
            request.Cancel.ThrowIfCancellationRequested();
            staged.Commit();

            if (!string.IsNullOrEmpty(request.ArchivePath))
            {
                WriteArchive(request.Directory, request.ArchivePath!, request.Epoch);
            }

            return new ImageResult(manifestDigest, written.Select(l => (l.Name, l.Digest, l.Size)).ToList()) { Details = written };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.BundleWriteFailed, request.Directory, e.Message);
        }
    }

    /// <summary>
    /// Assigns every path to a layer: the app (the working directory, less the runtime's files), the .NET runtime (a
    /// framework-dependent app's /usr/share/dotnet, a self-contained app's runtime-pack files), the system (the rest).
    /// Each layer carries the directories above its files, so it unpacks alone with the right modes.
    /// </summary>
    internal static List<(string Name, List<RootfsEntry> Entries)> Split(RootfsPlan plan, ImageRequest request)
    {
        string app = request.WorkingDirectory.TrimEnd('/') + "/";
        var groups = new[] { "system libraries and data", ".NET runtime", "app" }.Select(n => (Name: n, Entries: new SortedDictionary<string, RootfsEntry>(StringComparer.Ordinal))).ToArray();
        RootfsEntry[] all = plan.Entries.ToArray();
        var byPath = all.ToDictionary(e => e.Path, StringComparer.Ordinal);
        foreach (RootfsEntry entry in all)
        {
            if (entry.Path == "/")
            {
                continue;
            }

            bool underApp = entry.Path.StartsWith(app, StringComparison.Ordinal);
            bool underDotnet = entry.Path.StartsWith(WellKnownPaths.DotnetRoot + "/", StringComparison.Ordinal);
            if (entry.Kind == RootfsEntryKind.Directory && (underApp || underDotnet || entry.Path + "/" == app))
            {
                continue; // placed with the files below it
            }

            // The SBOM changes with the app: it goes with it, so the system and runtime layers stay the same blobs.
            bool isSbom = request.Sbom is { } sbom && entry.Path == sbom.Path;
            int layer = underDotnet || (underApp && request.RuntimeFiles.Contains(entry.Path)) ? 1 : underApp || isSbom ? 2 : 0;
            groups[layer].Entries[entry.Path] = entry;
            for (string parent = RootfsPlan.Parent(entry.Path); parent != "/"; parent = RootfsPlan.Parent(parent))
            {
                groups[layer].Entries.TryAdd(parent, byPath[parent]);
            }
        }

        return groups.Where(g => g.Entries.Count > 0).Select(g => (g.Name, g.Entries.Values.ToList())).ToList();
    }

    /// <summary>The creation time; with an SBOM, where it is in rootfs and its digest (<c>io.ocibundle.sbom.*</c>).</summary>
    private static JObject ManifestAnnotations(ImageRequest request, string created)
    {
        var annotations = new JObject { ["org.opencontainers.image.created"] = created };
        foreach ((string key, string value) in (request.Annotations ?? new Dictionary<string, string>()).OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            annotations[key] = value; // the sysroot's digest
        }

        if (request.Sbom is { } sbom)
        {
            annotations["io.ocibundle.sbom.path"] = sbom.Path;
            annotations["io.ocibundle.sbom.digest"] = sbom.Digest;
            annotations["io.ocibundle.sbom.format"] = "spdx+json; version=2.3";
        }

        return annotations;
    }

    private static JObject ImageConfig(ImageRequest request)
    {
        var config = new JObject
        {
            ["User"] = request.User,
            ["Env"] = new JArray(request.Environment.Select(e => $"{e.Key}={e.Value}")),
            ["Entrypoint"] = new JArray(request.Entrypoint),
            ["WorkingDir"] = request.WorkingDirectory,
        };
        if (request.DefaultArgs.Count > 0)
        {
            config["Cmd"] = new JArray(request.DefaultArgs);
        }

        if (request.ExposedPorts.Count > 0)
        {
            config["ExposedPorts"] = new JObject(request.ExposedPorts.OrderBy(p => p, StringComparer.Ordinal).Select(p => new JProperty(p, new JObject())));
        }

        config["Labels"] = new JObject(request.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => new JProperty(l.Key, l.Value)));
        return config;
    }

    private static JObject Descriptor(string mediaType, string digest, long size) =>
        new() { ["mediaType"] = mediaType, ["digest"] = digest, ["size"] = size };

    /// <summary>
    /// Every layer, side by side: each one unchanged since the last publish (same fingerprint, its blob as written)
    /// is linked from the previous layout without reading a file; the others are written, each by a thread of its
    /// own that reads and tars while the thread pool compresses.
    /// </summary>
    private static IReadOnlyList<LayerResult> WriteLayers(List<(string Name, List<RootfsEntry> Entries)> layers, string blobs, ImageRequest request)
    {
        var results = new LayerResult?[layers.Count];
        // One limit for every layer's chunks: the cores, never layers times cores; and at most 16 chunks queued per layer.
        using var cores = new SemaphoreSlim(Math.Max(1, request.Parallelism));
        var threads = new List<(Thread Thread, int Index)>();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<(int Layer, Exception Error)>();
        for (int i = 0; i < layers.Count; i++)
        {
            (string name, List<RootfsEntry> entries) = layers[i];
            string? fingerprint = Fingerprint(entries, request);
            if (fingerprint is not null && request.Reusable?.GetValueOrDefault(fingerprint) is { } old && TryReuse(old, blobs))
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
                    (string digest, long size, string diffId) = WriteLayer(entries, blobs, request, cores);
                    results[index] = new LayerResult(name, digest, size, diffId, fingerprint, Reused: false);
                }
                catch (Exception e)
                {
                    errors.Enqueue((index, e));
                }
            })
            { IsBackground = true, Name = "OciBundle layer: " + name };
            thread.Start();
            threads.Add((thread, i));
        }

        foreach ((Thread thread, _) in threads)
        {
            thread.Join();
        }

        if (!errors.IsEmpty)
        {
            // The first that is not a cancellation says most; rethrown as it was (an IOException stays one).
            // The first layer's (not the first thread's: the same failure reads the same every time) that is not a cancellation.
            Exception first = errors.OrderBy(e => e.Layer).Select(e => e.Error).FirstOrDefault(e => e is not OperationCanceledException) ?? errors.OrderBy(e => e.Layer).First().Error;
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
        }

        return results.Select(r => r!).ToList();
    }

    /// <summary>
    /// What a layer's bytes are made of, without reading a file: each entry's path, kind, mode, owner, link and
    /// size; each file's source identity (inode, size, mtime and ctime) or its bytes' digest; and how it is packed
    /// (the format, compression, chunk size, timestamp, this engine and its runtime). Null when a source's identity
    /// is unknown: then the layer is always written.
    /// </summary>
    internal static string? Fingerprint(List<RootfsEntry> entries, ImageRequest request)
    {
        if (request.SourceIdentity is null)
        {
            return null;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text) => hash.AppendData(Encoding.UTF8.GetBytes(text));
        Add($"ocibundle-layer 1\n{request.Compression} {ChunkedCompressor.ChunkSize} {ChunkedCompressor.ZstdLevel} {ChunkedCompressor.Probe(request.Compression)}\n{request.Epoch}\n"
            + $"{typeof(ImageLayoutWriter).Assembly.ManifestModule.ModuleVersionId} {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription} {typeof(object).Assembly.Location}\n");
        foreach (RootfsEntry e in entries)
        {
            string content = "";
            if (e.Kind == RootfsEntryKind.File)
            {
                if (e.Content is not null)
                {
                    content = "bytes " + Convert.ToHexString(SHA256.HashData(e.Content));
                }
                else if (request.SourceIdentity(e) is { } identity)
                {
                    content = $"source {e.SourcePath}\0{e.SourceInode}\0{identity}";
                }
                else
                {
                    return null;
                }
            }

            Add($"{e.Path}\0{e.Kind}\0{(int)e.Mode}\0{e.OwnerId}\0{e.LinkTarget}\0{e.Size}\0{content}\n");
        }

        return "sha256:" + Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }

    /// <summary>Links the previous layout's blob into the new one, if it is still the file that was written (else false: write it).</summary>
    private static bool TryReuse(ReusableLayer old, string blobs)
    {
        // Only a regular file with no other name, in the layout's own blobs/sha256 (no symlink on the way), of the
        // size recorded: the state is in obj/, and a forged one must never link a host file (a symlink to it, a hard
        // link of it) into the layout, where FixTimes would chmod it and the archive and the push would read it.
        // (The diff_id recorded with it is trusted as obj/ is: it cannot be checked without reading the layer.)
        string sha256 = Path.GetDirectoryName(old.BlobPath)!;
        if (!IsRealDirectory(sha256) || !IsRealDirectory(Path.GetDirectoryName(sha256)!)
            || NativeMethods.LStat(old.BlobPath) is not { } s || (s.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG || s.Nlink != 1
            || (long)s.Size != old.Size || NativeMethods.Identity(s) != old.BlobIdentity)
        {
            return false; // changed, replaced or removed since: never trusted
        }

        string target = Path.Combine(blobs, old.Digest["sha256:".Length..]);
        if (File.Exists(target))
        {
            return true;
        }

        // A hard link: nothing read, nothing copied.
        if (NativeMethods.link(old.BlobPath, target) == 0)
        {
            // link(2) takes whatever the name is now: it must still be the file checked above.
            // (Its link count and ctime changed with the link: the device, inode and size say which file it is.)
            if (NativeMethods.LStat(target) is not { } linked || linked.Inode != s.Inode || linked.DevMajor != s.DevMajor || linked.DevMinor != s.DevMinor
                || linked.Size != s.Size || (linked.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG)
            {
                File.Delete(target);
                return false;
            }

            return true;
        }

        // Where the file system has no hard links (or refuses this one: protected_hardlinks), a copy; anything
        // else, or any doubt during the copy, and the layer is simply written again.
        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        if (errno is not (NativeMethods.EXDEV or NativeMethods.EPERM or NativeMethods.EMLINK or NativeMethods.EOPNOTSUPP))
        {
            return false;
        }

        string temp = target + ".copy-" + Guid.NewGuid().ToString("N");
        try
        {
            // Opened without following a link, and only if it is still the very file checked above (device, inode, size, times).
            using var source = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(FileCopier.OpenSource(old.BlobPath, s.Inode), ownsHandle: true), FileAccess.Read, 1 << 16);
            if (NativeMethods.FStat((int)source.SafeFileHandle.DangerousGetHandle()) is not { } opened || NativeMethods.Identity(opened) != NativeMethods.Identity(s))
            {
                return false;
            }

            using (var copy = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                source.CopyTo(copy);
            }

            File.Move(temp, target, overwrite: true);
            return true;
        }
        catch (IOException)
        {
            File.Delete(temp);
            return false;
        }
    }

    private static bool IsRealDirectory(string path) =>
        NativeMethods.LStat(path) is { } d && (d.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR;

    /// <summary>Writes one layer: tar (hashed for the diff_id) into chunked compression (hashed for the digest) into a blob.</summary>
    private static (string Digest, long Size, string DiffId) WriteLayer(List<RootfsEntry> entries, string blobs, ImageRequest request, SemaphoreSlim cores)
    {
        long epoch = request.Epoch;
        string temp = Path.Combine(blobs, ".layer-" + Guid.NewGuid().ToString("N"));
        var compressedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var tarHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size;
        using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            var compressed = new HashingStream(file, compressedHash);
            using (var compressor = new ChunkedCompressor(compressed, request.Compression, Math.Clamp(request.Parallelism, 1, 16), cores))
            {
                var tarStream = new HashingStream(compressor, tarHash);
                using (var tar = new TarWriter(tarStream, TarEntryFormat.Gnu, leaveOpen: true))
                {
                    DateTimeOffset time = DateTimeOffset.FromUnixTimeSeconds(epoch);
                    foreach (RootfsEntry e in entries)
                    {
                        request.Cancel.ThrowIfCancellationRequested();
                        WriteEntry(tar, e, time);
                    }
                }

                compressor.Finish();
            }

            size = compressed.Length;
        }

        string digest = "sha256:" + Convert.ToHexString(compressedHash.GetHashAndReset()).ToLowerInvariant();
        string target = Path.Combine(blobs, digest[7..]);
        File.Move(temp, target, overwrite: true); // two identical layers (written side by side): one blob

        return (digest, size, "sha256:" + Convert.ToHexString(tarHash.GetHashAndReset()).ToLowerInvariant());
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
            Gid = e.OwnerId ?? 0,
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

    private static (string Digest, long Size) WriteBlob(string blobs, byte[] content)
    {
        string hex = Convert.ToHexString(SHA256.HashData(content)).ToLowerInvariant();
        File.WriteAllBytes(Path.Combine(blobs, hex), content);
        return ("sha256:" + hex, content.Length);
    }

    private static byte[] Serialize(JObject value) => new UTF8Encoding(false).GetBytes(value.ToString(Formatting.None));

    private static void FixTimes(string root, long epoch)
    {
        foreach (string path in System.IO.Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Append(root))
        {
            File.SetUnixFileMode(path, System.IO.Directory.Exists(path) ? RootfsPlan.DirectoryMode : (UnixFileMode)0b110_100_100);
            NativeMethods.SetTimes(path, epoch);
        }
    }

    /// <summary>The layout as one tar (an oci-archive, what <c>skopeo copy oci-archive:...</c> reads), written beside and renamed.</summary>
    private static void WriteArchive(string layout, string archive, long epoch)
    {
        string full = Path.GetFullPath(archive);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            DateTimeOffset time = DateTimeOffset.FromUnixTimeSeconds(epoch);
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            using (var tar = new TarWriter(file, TarEntryFormat.Gnu, leaveOpen: false))
            {
                foreach (string path in System.IO.Directory.EnumerateFileSystemEntries(layout, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    string name = Path.GetRelativePath(layout, path);
                    bool isDir = System.IO.Directory.Exists(path);
                    var entry = new GnuTarEntry(isDir ? TarEntryType.Directory : TarEntryType.RegularFile, isDir ? name + "/" : name)
                    {
                        ModificationTime = time, // no atime/ctime: see WriteEntry
                        Mode = isDir ? RootfsPlan.DirectoryMode : (UnixFileMode)0b110_100_100,
                        UserName = "", GroupName = "",
                    };
                    using Stream? data = isDir ? null : File.OpenRead(path);
                    if (data is not null)
                    {
                        entry.DataStream = data;
                    }

                    tar.WriteEntry(entry);
                }
            }

            // Checked with the options, and again now: never replace a file the product did not write.
            if (OutputFolder.CheckArchive(full) is { } refused)
            {
                throw refused;
            }

            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>
    /// Passes writes through and hashes them on the way, so each layer is read once and written once.
    /// (No library stream does this; CryptoStream would transform, not observe.)
    /// </summary>
    private sealed class HashingStream : Stream
    {
        private readonly Stream _inner;
        private readonly IncrementalHash _hash;
        private long _length;

        public HashingStream(Stream inner, IncrementalHash hash)
        {
            _inner = inner;
            _hash = hash;
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            _inner.Write(buffer);
            _length += buffer.Length;
        }

        public override void Flush() => _inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
