using System.Diagnostics;
using System.Formats.Tar;
using System.Security.Cryptography;
using OciBundle.Model;
using OciBundle.Diagnostics;
using OciBundle.Request;
using OciBundle.State;
using OciBundle.Storage;

namespace OciBundle.Sysroots;

/// <summary>The sysroot a plan takes its native files from: a folder on the host, and the digest it was unpacked from (null for a plain folder).</summary>
internal sealed record MaterializedSysroot(string Root, string? Digest, string Source, string Form)
{
    /// <summary>The image's name in its registry (<c>registry/repository:tag</c>), for a sysroot pulled from one.</summary>
    public string? BaseName { get; init; }
}

/// <summary>
/// Turns <c>OciBundleSysroot</c> into a folder the closure can read. A plain folder is used as it is. An OCI image layout,
/// an OCI archive or a root file system tarball is unpacked once into the content-addressed cache (<see cref="SysrootUnpackCache"/>):
/// an image by its manifest's digest, a file by its own.
/// Runs in the planner, never on a no-op publish: the up-to-date check knows the archive by its identity.
/// </summary>
internal static class SysrootStore
{
    public static MaterializedSysroot Materialize(SysrootSpec spec, TargetArchitecture arch, InputLedger inputs, Action<string> log, CancellationToken cancel = default)
    {
        if (spec.Form is SysrootForm.Folder or SysrootForm.Registry)
        {
            return spec.Form == SysrootForm.Folder ? new MaterializedSysroot(spec.Path, null, spec.Path, "folder") : RegistrySysroot.Materialize(spec, arch, log, cancel);
        }

        var cache = new SysrootUnpackCache(spec.CacheDirectory!, log);
        return spec.Form == SysrootForm.OciLayout ? FromLayout(spec, arch, inputs, cache, log) : FromFile(spec, arch, inputs, cache, log);
    }

    /// <summary>An image of a layout folder, by its manifest's digest.</summary>
    private static MaterializedSysroot FromLayout(SysrootSpec spec, TargetArchitecture arch, InputLedger inputs, SysrootUnpackCache cache, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        string source = spec.Tag is null ? spec.Path : $"{spec.Path}:{spec.Tag}";
        OciImage image = OciImage.Open(spec.Path, spec.Tag, arch.GoArch, source);
        foreach (string document in image.Documents.Concat(image.Layers.Select(l => l.Path)))
        {
            inputs.Path(document);
        }

        CheckPin(spec, source, image.Digest, null);
        CheckArchitecture(source, arch, image.Architecture);
        EntryMarker marker = cache.Ensure(image.Digest, source, stage =>
        {
            ImageLayers.Apply(image, Path.Combine(stage, "rootfs"), source, log);
            return (image.Digest, image.Architecture);
        });
        log($"Sysroot {source}: image {image.Digest} ({marker.Architecture}), from {cache.EntryOf(image.Digest)} in {clock.ElapsedMilliseconds} ms.");
        return new MaterializedSysroot(cache.RootOf(image.Digest), image.Digest, source, "oci-layout");
    }

    /// <summary>A file: an OCI archive or a tarball, told apart when it is unpacked; the cache knows it by its own digest.</summary>
    private static MaterializedSysroot FromFile(SysrootSpec spec, TargetArchitecture arch, InputLedger inputs, SysrootUnpackCache cache, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        string file = spec.Path;
        inputs.Path(file);
        string? known = cache.KnownDigest(file);
        string fileDigest = known ?? HashFile(file, spec.Path);
        string hashed = known is null ? $"hashed in {clock.ElapsedMilliseconds} ms" : "known by its identity, not read";
        if (spec.PinnedDigest is { } pin && pin != fileDigest && !IsOciArchive(file))
        {
            throw new OciBundleException(Strings.SysrootDigestMismatch, spec.Path, pin, fileDigest);
        }

        EntryMarker m = cache.Ensure(fileDigest, spec.Path, stage =>
        {
            if (IsOciArchive(file))
            {
                return UnpackArchive(file, Path.Combine(stage, "layout"), Path.Combine(stage, "rootfs"), spec.Path, arch, log);
            }

            UnpackTarball(file, Path.Combine(stage, "rootfs"), spec.Path, log);
            return (fileDigest, "");
        });
        CheckPin(spec, spec.Path, m.Digest, fileDigest);
        CheckArchitecture(spec.Path, arch, m.Architecture);
        cache.RememberDigest(file, fileDigest);
        log($"Sysroot {spec.Path}: {m.Digest} ({hashed}), from {cache.EntryOf(fileDigest)} in {clock.ElapsedMilliseconds} ms.");
        return new MaterializedSysroot(cache.RootOf(fileDigest), m.Digest, spec.Path, m.Digest == fileDigest ? "tarball" : "oci-archive");
    }

    /// <summary>An OCI archive: its layout unpacked (files only) beside the root file system, its image applied; the layout kept for a base image's blobs.</summary>
    private static (string Digest, string Architecture) UnpackArchive(string file, string layout, string rootfs, string source, TargetArchitecture arch, Action<string> log)
    {
        Directory.CreateDirectory(layout);
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            new TarUnpacker(layout, source) { FilesOnly = true }.Unpack(stream, layer: false);
        }

        OciImage image = OciImage.Open(layout, null, arch.GoArch, source);
        CheckArchitecture(source, arch, image.Architecture);
        ImageLayers.Apply(image, rootfs, source, log);
        return (image.Digest, image.Architecture); // the layout stays: its blobs are the layers of an image built on this one (OciImageBase)
    }

    /// <summary>A root file system tarball (plain, gzip or zstd by its first bytes) unpacked.</summary>
    private static void UnpackTarball(string file, string rootfs, string source, Action<string> log)
    {
        Directory.CreateDirectory(rootfs);
        var unpacker = new TarUnpacker(rootfs, source) { OwnershipFile = HeaderOwnershipRecord.Beside(rootfs) };
        using (Stream stream = BlobCompression.Decompressed(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1), file))
        {
            unpacker.Unpack(stream, layer: false);
        }

        unpacker.Finish();
        log($"Sysroot {source}: unpacked {unpacker.Entries} entries ({unpacker.SkippedSpecialFiles} device nodes and FIFOs skipped).");
    }

    private static void CheckPin(SysrootSpec spec, string source, string digest, string? fileDigest)
    {
        if (spec.PinnedDigest is { } pin && pin != digest && pin != fileDigest)
        {
            throw new OciBundleException(Strings.SysrootDigestMismatch, source, pin, digest);
        }
    }

    internal static void CheckArchitecture(string source, TargetArchitecture arch, string imageArchitecture)
    {
        if (imageArchitecture.Length > 0 && imageArchitecture != arch.GoArch)
        {
            throw new OciBundleException(Strings.SysrootLacksArchitecture, source, arch.GoArch, $"its image config says {imageArchitecture}");
        }
    }

    /// <summary>
    /// An uncompressed tar whose top holds <c>oci-layout</c>: its headers are read (the data is skipped by seeking) while
    /// they are those of a layout, however many blobs come first (skopeo writes blobs/ first, oci-layout last); the first
    /// other name (./etc of a root file system) ends the search.
    /// </summary>
    private static bool IsOciArchive(string file)
    {
        if (BlobCompression.Sniff(file) is not null)
        {
            return false;
        }

        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 12);
            using var reader = new TarReader(stream);
            while (reader.GetNextEntry(copyData: false) is { } entry)
            {
                string name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name.TrimStart('/');
                if (name == "oci-layout")
                {
                    return true;
                }

                if (entry.EntryType is not (TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes)
                    && name is not ("" or "." or "index.json" or "blobs" or "blobs/") && !name.StartsWith("blobs/", StringComparison.Ordinal))
                {
                    return false;
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or IOException or ArgumentException or OverflowException or NotSupportedException)
        {
            return false; // not a tar, or an entry .NET does not read (sparse): the unpacker says so with its own error
        }

        return false;
    }

    private static string HashFile(string path, string source)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            return "sha256:" + Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.SysrootUnreadable, source, e.Message.TrimEnd('.'));
        }
    }
}
