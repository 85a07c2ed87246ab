using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Output;
using OciBundle.Rootfs;
using OciBundle.Interop;

namespace OciBundle.Image;

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

    public required long Epoch { get; init; }

    /// <summary>The SBOM's path in rootfs and its digest, named in the manifest's annotations; null without an SBOM.</summary>
    public (string Path, string Digest)? Sbom { get; init; }

    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Receives warnings (leftovers of earlier publishes that cannot be removed).</summary>
    public Action<OciBundleException>? Warn { get; init; }

    /// <summary>What the last publish wrote in the layout folder (relative paths), when known: anything else there is kept, not deleted.</summary>
    public IReadOnlySet<string>? PreviousEntries { get; init; }

    /// <summary>Stops the write before the swap, leaving the previous layout.</summary>
    public CancellationToken Cancel { get; init; }
}

/// <summary>The digests of what was written, for the summary line and for tests.</summary>
internal sealed record ImageResult(string ManifestDigest, IReadOnlyList<(string Name, string Digest, long Size)> Layers);

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

    public static ImageResult Write(RootfsPlan plan, ImageRequest request)
    {
        List<(string Name, List<RootfsEntry> Entries)> layers = Split(plan, request);
        try
        {
            using var staged = new StagedDirectory(request.Directory, request.LockTimeout, OutputKind.Image, request.Warn, request.PreviousEntries);
            string blobs = Path.Combine(staged.StagingPath, "blobs", "sha256");
            System.IO.Directory.CreateDirectory(blobs);

            var written = new List<(string Name, string Digest, long Size, string DiffId)>();
            foreach ((string name, List<RootfsEntry> entries) in layers)
            {
                request.Cancel.ThrowIfCancellationRequested();
                (string digest, long size, string diffId) = WriteLayer(entries, blobs, request.Epoch);
                written.Add((name, digest, size, diffId));
            }

            string created = DateTimeOffset.FromUnixTimeSeconds(request.Epoch).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
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
                ["layers"] = new JArray(written.Select(l => Descriptor(LayerMediaType, l.Digest, l.Size))),
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

            return new ImageResult(manifestDigest, written.Select(l => (l.Name, l.Digest, l.Size)).ToList());
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
            bool underDotnet = entry.Path.StartsWith(ContainerPaths.DotnetRoot + "/", StringComparison.Ordinal);
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

    /// <summary>Writes one layer: tar (hashed for the diff_id) into gzip (hashed for the digest) into a blob.</summary>
    private static (string Digest, long Size, string DiffId) WriteLayer(List<RootfsEntry> entries, string blobs, long epoch)
    {
        string temp = Path.Combine(blobs, ".layer-" + Guid.NewGuid().ToString("N"));
        var compressedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var tarHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size;
        using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            var compressed = new HashingStream(file, compressedHash);
            using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            {
                var tarStream = new HashingStream(gzip, tarHash);
                using (var tar = new TarWriter(tarStream, TarEntryFormat.Gnu, leaveOpen: true))
                {
                    DateTimeOffset time = DateTimeOffset.FromUnixTimeSeconds(epoch);
                    foreach (RootfsEntry e in entries)
                    {
                        WriteEntry(tar, e, time);
                    }
                }
            }

            size = compressed.Length;
        }

        string digest = "sha256:" + Convert.ToHexString(compressedHash.GetHashAndReset()).ToLowerInvariant();
        string target = Path.Combine(blobs, digest[7..]);
        if (File.Exists(target))
        {
            File.Delete(temp); // two identical layers: one blob
        }
        else
        {
            File.Move(temp, target);
        }

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
                : new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(FileCopier.OpenSource(e.SourcePath!, e.SourceInode), ownsHandle: true), FileAccess.Read, 1 << 16);
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
