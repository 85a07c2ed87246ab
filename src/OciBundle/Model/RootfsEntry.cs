namespace OciBundle.Model;

internal enum RootfsEntryKind
{
    Directory,
    File,
    Symlink,
}

/// <summary>
/// Where a planned file came from, decided once by the planner (<c>BundlePlanner.OriginOf</c>) for every stage that
/// asks: which files get dpkg metadata, and whom the SBOM credits.
/// </summary>
internal enum FileOrigin
{
    /// <summary>Written by the product itself (passwd, group, the SBOM).</summary>
    Generated,

    /// <summary>The app's publish output, under the working directory.</summary>
    App,

    /// <summary>An <c>OciBundleFile</c> item: the user's own file, part of the app.</summary>
    UserFile,

    /// <summary>The .NET installation of a framework-dependent app: its shared frameworks and host.</summary>
    DotnetInstallation,

    /// <summary>The sysroot: the closure's libraries, data files, <c>OciBundleArg</c> programs.</summary>
    Sysroot,
}

/// <summary>One path of the bundle's root file system and why it is there.</summary>
internal sealed class RootfsEntry
{
    public RootfsEntry(string path, RootfsEntryKind kind, UnixFileMode mode, string reason)
    {
        Path = path;
        Kind = kind;
        Mode = mode;
        Reason = reason;
    }

    /// <summary>Absolute path inside rootfs, e.g. <c>/app/HelloBundle</c>.</summary>
    public string Path { get; }

    public RootfsEntryKind Kind { get; }

    /// <summary>
    /// Permission bits, the product's: a file 0644 or 0755 (<see cref="FileModes"/>), a folder 0755 but for the special
    /// ones (<c>/tmp</c>, <c>/root</c>, tmpfs mount points), or what an item's <c>Mode</c> gave. Never setuid/setgid,
    /// but for a base image's path (<see cref="FromBaseLayers"/>), whose mode is its layer's, special bits and all.
    /// </summary>
    public UnixFileMode Mode { get; }

    /// <summary>The mode was given by the user (an <c>OciBundleFile</c>'s <c>Mode</c>): no rule changes it.</summary>
    public bool ModeGiven { get; init; }

    /// <summary>Why the path is in the bundle: the rule, or the file that needed it.</summary>
    public string Reason { get; }

    /// <summary>For files copied from the build machine: where from.</summary>
    public string? SourcePath { get; init; }

    /// <summary>
    /// For files copied from the build machine: the inode the plan saw, so the copy opens that very file (a source
    /// swapped for a link to a secret between planning and copying is refused, not copied). 0 when unknown.
    /// </summary>
    public ulong SourceInode { get; init; }

    /// <summary>
    /// The source must be readable by every user of the build machine when it is read (a file of a sysroot folder): the
    /// copy checks the mode of the descriptor it opened, so a file made private after planning is refused, not copied.
    /// </summary>
    public bool PublicSource { get; init; }

    /// <summary>For files the product writes itself (passwd, group): their bytes.</summary>
    public byte[]? Content { get; init; }

    /// <summary>For symlinks: the target, as written in the link.</summary>
    public string? LinkTarget { get; init; }

    /// <summary>File size in bytes (0 for directories; the target's length for symlinks).</summary>
    public long Size { get; init; }

    /// <summary>Owner inside the container when it is not root (the app user's home).</summary>
    public int? OwnerId { get; init; }

    /// <summary>The owner's group inside the container when it is not the owner's id (a volume of <c>OciBundleUser</c> uid:gid); null: the same as <see cref="OwnerId"/>.</summary>
    public int? GroupId { get; init; }

    /// <summary>
    /// A path of a base image's tree, planned as its layers have it: <see cref="Mode"/> (setuid, setgid and sticky bits
    /// included), <see cref="OwnerId"/> and <see cref="GroupId"/> are its tar header's, which the bundle applies as they
    /// are (not the product's rules for its own files and folders).
    /// </summary>
    public bool FromBaseLayers { get; init; }

    /// <summary>This entry with another mode, everything else the same.</summary>
    public RootfsEntry WithMode(UnixFileMode mode) => new(Path, Kind, mode, Reason)
    {
        ModeGiven = ModeGiven,
        SourcePath = SourcePath,
        SourceInode = SourceInode,
        Content = Content,
        LinkTarget = LinkTarget,
        Size = Size,
        OwnerId = OwnerId,
        GroupId = GroupId,
        FromBaseLayers = FromBaseLayers,
    };

    public override string ToString() => $"{Kind} {Path}";
}
