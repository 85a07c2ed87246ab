using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Model.Oci;
using OciBundle.Request;
using OciBundle.State;

namespace OciBundle.Sysroots;

/// <summary>One layer of the base image as its manifest names it, the blob that holds it, and its <c>diff_id</c>.</summary>
internal sealed record BaseLayer(OciDescriptor Descriptor, string BlobPath, string DiffId);

/// <summary>
/// <c>OciImageBase</c>: the image this one is built on. Its layers are the first of the image, byte for byte (the blobs
/// of the layout it was read or pulled into, kept in the sysroot cache entry beside the unpacked <see cref="Root"/>);
/// its config is where the image's own starts; its tree is what the product's layers go on top of.
/// </summary>
internal sealed record BaseImage(string Source, string Digest, string Root, IReadOnlyList<BaseLayer> Layers, OciImageConfig Config)
{
    /// <summary>The name to record (<c>org.opencontainers.image.base.name</c>): the reference without its digest, or a layout's or archive's file name (and tag), never its path.</summary>
    public required string Name { get; init; }

    /// <summary>
    /// Every path of the base's tree with its owner, group and full mode as the base's layers say (<see cref="Root"/>,
    /// unpacked by whoever filled the cache, has neither owners nor setuid and setgid bits).
    /// </summary>
    public IReadOnlyDictionary<string, HeaderOwnership> Ownership { get; init; } = new Dictionary<string, HeaderOwnership>();

    /// <summary>What the base's layers say of <paramref name="path"/>: its header, or root's with the mode unpacked (a folder no layer named, made on the way, as an engine makes it).</summary>
    public HeaderOwnership OwnershipOf(string path, NativeMethods.Statx unpacked) =>
        Ownership.TryGetValue(path, out HeaderOwnership o) ? o : new HeaderOwnership(0, 0, (UnixFileMode)(unpacked.Mode & 0xFFF));

    /// <summary>
    /// The plan's entry for <paramref name="path"/> of the base's tree as the base has it: its kind, its content (the
    /// unpacked file), its owner, group and full mode (<see cref="RootfsEntry.FromBaseLayers"/>); null when it is
    /// nothing a plan holds (gone, or no folder, file or link).
    /// </summary>
    public RootfsEntry? EntryOf(string path, string reason)
    {
        string host = Root + path;
        if (NativeMethods.LStat(host) is not { } s)
        {
            return null;
        }

        HeaderOwnership o = OwnershipOf(path, s);
        int? owner = o.Uid == 0 && o.Gid == 0 ? null : o.Uid;
        int? group = o.Gid == o.Uid ? null : o.Gid;
        return (s.Mode & NativeMethods.S_IFMT) switch
        {
            NativeMethods.S_IFDIR => new RootfsEntry(path, RootfsEntryKind.Directory, o.Mode, reason) { OwnerId = owner, GroupId = group, FromBaseLayers = true },
            NativeMethods.S_IFREG => new RootfsEntry(path, RootfsEntryKind.File, o.Mode, reason)
            {
                SourcePath = host, Size = (long)s.Size, SourceInode = s.Inode, ModeGiven = true, OwnerId = owner, GroupId = group, FromBaseLayers = true,
            },
            NativeMethods.S_IFLNK when new FileInfo(host).LinkTarget is { } target => new RootfsEntry(path, RootfsEntryKind.Symlink, (UnixFileMode)0b111_111_111, reason)
            {
                LinkTarget = target, Size = System.Text.Encoding.UTF8.GetByteCount(target), OwnerId = owner, GroupId = group, FromBaseLayers = true,
            },
            _ => null,
        };
    }

    /// <summary>
    /// The base made a folder by the sysroot's rules (the same cache, pin and credentials: <paramref name="sysroot"/>
    /// when OciBundleSysroot is the base, else materialized here), then opened as the image it is.
    /// </summary>
    public static BaseImage Materialize(SysrootSpec spec, MaterializedSysroot? sysroot, TargetArchitecture arch, InputLedger inputs, Action<string> log, CancellationToken cancel)
    {
        try
        {
            return Open(spec, sysroot, arch, inputs, log, cancel);
        }
        catch (OciBundleException e) when (sysroot is null && e.Message.Contains("OciBundleSysroot '", StringComparison.Ordinal))
        {
            // Not OciBundleSysroot's value: the sysroot's errors (a pull's, an unreadable layout's) are said as OciImageBase's.
            throw e.Naming("OciImageBase");
        }
    }

    private static BaseImage Open(SysrootSpec spec, MaterializedSysroot? sysroot, TargetArchitecture arch, InputLedger inputs, Action<string> log, CancellationToken cancel)
    {
        if (spec.Form == SysrootForm.Folder)
        {
            throw new OciBundleException(Strings.BaseImageNotAnImage, spec.Path, "a folder");
        }

        MaterializedSysroot unpacked = sysroot ?? OnPlatform(spec.Path, arch, () => SysrootStore.Materialize(spec, arch, inputs, log, cancel));
        if (unpacked.Form == "tarball")
        {
            throw new OciBundleException(Strings.BaseImageNotAnImage, spec.Path, "a root file system tarball");
        }

        string layout = unpacked.Form == "oci-layout" ? spec.Path : Path.Combine(Path.GetDirectoryName(unpacked.Root)!, "layout");
        if (!File.Exists(Path.Combine(layout, "index.json")))
        {
            throw new OciBundleException(Strings.BaseImageLayoutMissing, unpacked.Source, Path.GetDirectoryName(unpacked.Root)!, $"{layout} has no index.json");
        }

        OciImage image = OnPlatform(spec.Path, arch, () => OciImage.Open(layout, unpacked.Form == "oci-layout" ? spec.Tag : null, arch.GoArch, unpacked.Source));
        CheckPlatform(unpacked.Source, arch.GoArch, image.Config.Os, image.Config.Architecture);
        if (image.DiffIds.Count != image.Layers.Count)
        {
            throw new OciBundleException(Strings.SysrootUnreadable, unpacked.Source, $"its config lists {image.DiffIds.Count} diff_ids for {image.Layers.Count} layers");
        }

        var layers = image.Manifest.Layers.Select((d, i) => new BaseLayer(d, image.Layers[i].Path, image.DiffIds[i])).ToList();
        // A local layout or archive is named by its file name (and tag), never by where it lies: the name goes into the
        // image (org.opencontainers.image.base.name), which must not depend on the build machine's paths.
        string name = spec.Reference is { } reference ? reference.Name
            : Path.GetFileName(spec.Path.TrimEnd('/')) + (spec.Tag is { Length: > 0 } tag ? ":" + tag : "");
        log($"Base image {unpacked.Source}: {image.Digest}, {layers.Count} layers ({layers.Sum(l => l.Descriptor.Size) / 1048576.0:F1} MB) taken as they are.");
        // Written with the tree by this version's cache (an entry of an older format is unpacked again).
        string record = HeaderOwnershipRecord.Beside(unpacked.Root);
        IReadOnlyDictionary<string, HeaderOwnership> ownership = HeaderOwnershipRecord.Read(record)
            ?? throw new OciBundleException(Strings.BaseImageOwnershipMissing, unpacked.Source, Path.GetDirectoryName(record)!, record);
        return new BaseImage(unpacked.Source, image.Digest, unpacked.Root, layers, image.Config) { Name = name, Ownership = ownership };
    }

    /// <summary>OCIB1650 when the base's config names another OS or architecture than the publish's (an empty value is taken as a match).</summary>
    public static void CheckPlatform(string source, string goArch, string? os, string? architecture)
    {
        bool osMatches = string.IsNullOrEmpty(os) || os == "linux";
        bool archMatches = string.IsNullOrEmpty(architecture) || architecture == goArch;
        if (!osMatches || !archMatches)
        {
            throw new OciBundleException(Strings.BaseImagePlatformMismatch, source, $"{(string.IsNullOrEmpty(os) ? "linux" : os)}/{(string.IsNullOrEmpty(architecture) ? goArch : architecture)}", goArch);
        }
    }

    /// <summary>Runs <paramref name="open"/>, the sysroot's "no image for this platform" errors said as the base's (OCIB1650).</summary>
    public static T OnPlatform<T>(string source, TargetArchitecture arch, Func<T> open)
    {
        try
        {
            return open();
        }
        catch (OciBundleException e) when (e.Diagnostic == Strings.SysrootLacksArchitecture || e.Diagnostic == Strings.SysrootPlatformNotFound || e.Diagnostic == Strings.SysrootRegistryPlatformNotFound)
        {
            string has = (e.Args.Count > 2 ? e.Args[2]?.ToString() : null)?.Replace("its image config says ", "", StringComparison.Ordinal) ?? "another platform";
            throw new OciBundleException(Strings.BaseImagePlatformMismatch, source, has, arch.GoArch);
        }
    }
}
