using OciBundle.Diagnostics;

namespace OciBundle.Model;

/// <summary>
/// Everything that will be in rootfs, decided before a byte is written: paths, kinds, modes, sources and reasons.
/// Building the plan first is what lets the writer be atomic, incremental and reproducible, and lets the
/// provenance report say why each path is there.
/// </summary>
internal sealed class RootfsPlan
{
    public const UnixFileMode DirectoryMode = (UnixFileMode)0b111_101_101; // 0755
    private const UnixFileMode SpecialBits = UnixFileMode.SetUser | UnixFileMode.SetGroup;

    // Group and others never write a bundle's files or folders (root runs it): only a sticky folder such as /tmp may be
    // world-writable, since there nobody can replace another's files.
    private const UnixFileMode OthersWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>
    /// A file's mode until the planner decides by what it is (<c>Planning/ProgramModes</c>): 0755 when the source has
    /// an execute bit, else 0644. Never the source's own bits beyond that (umask, the user who filled a cache).
    /// </summary>
    private static UnixFileMode FileMode(UnixFileMode mode) => FileModes.Of((mode & FileModes.AnyExecute) != 0);

    private static UnixFileMode FolderMode(UnixFileMode mode) => (mode & UnixFileMode.StickyBit) != 0 ? mode & ~SpecialBits : mode & ~SpecialBits & ~OthersWrite;

    private readonly Dictionary<string, RootfsEntry> _entries = new(StringComparer.Ordinal);

    public RootfsPlan()
    {
        _entries["/"] = new RootfsEntry("/", RootfsEntryKind.Directory, DirectoryMode, "root of the file system");
    }

    public int Count => _entries.Count;

    private IReadOnlyList<RootfsEntry>? _sealed;

    /// <summary>All entries, parents before children, in ordinal path order: the order they are written and reported in.</summary>
    public IEnumerable<RootfsEntry> Entries => _sealed ?? _entries.Values.OrderBy(e => e.Path, StringComparer.Ordinal).ToArray();

    /// <summary>
    /// Ends planning: from here on the plan cannot change (the writers, the image and the report read one and the same
    /// plan), and its entries are sorted once.
    /// </summary>
    public RootfsPlan Seal()
    {
        _sealed ??= _entries.Values.OrderBy(e => e.Path, StringComparer.Ordinal).ToArray();
        return this;
    }

    private void ThrowIfSealed()
    {
        if (_sealed is not null)
        {
            throw new InvalidOperationException("The plan is sealed: planning is over.");
        }
    }

    public bool TryGet(string path, out RootfsEntry entry) => _entries.TryGetValue(path, out entry!);

    public RootfsEntry AddDirectory(string path, string reason, UnixFileMode mode = DirectoryMode, int? owner = null, int? group = null)
    {
        ThrowIfSealed();
        if (_entries.TryGetValue(path, out RootfsEntry? existing))
        {
            if (existing.Kind != RootfsEntryKind.Directory)
            {
                throw Conflict(path, existing, reason);
            }

            if (owner is not null || mode != DirectoryMode)
            {
                // An explicit rule (the app user's home, /tmp) wins over a parent created on the way.
                var replaced = new RootfsEntry(path, RootfsEntryKind.Directory, FolderMode(mode), reason) { OwnerId = owner, GroupId = group };
                _entries[path] = replaced;
                return replaced;
            }

            return existing;
        }

        EnsureParents(path, reason);
        var entry = new RootfsEntry(path, RootfsEntryKind.Directory, FolderMode(mode), reason) { OwnerId = owner, GroupId = group };
        _entries[path] = entry;
        return entry;
    }

    /// <summary>Plans a file copied from <paramref name="sourcePath"/>, whose mode there is <paramref name="mode"/>; <paramref name="givenMode"/>, an item's <c>Mode</c>, wins over every rule.</summary>
    public RootfsEntry AddFile(string path, string sourcePath, UnixFileMode mode, long size, string reason, ulong inode = 0, UnixFileMode? givenMode = null, bool publicSource = false) =>
        Add(new RootfsEntry(path, RootfsEntryKind.File, givenMode ?? FileMode(mode), reason) { SourcePath = sourcePath, Size = size, SourceInode = inode, ModeGiven = givenMode is not null, PublicSource = publicSource });

    /// <summary>Sets the mode of a planned file (the planner's decision by content: <c>Planning/ProgramModes</c>).</summary>
    public void SetFileMode(string path, UnixFileMode mode)
    {
        ThrowIfSealed();
        if (_entries.TryGetValue(path, out RootfsEntry? entry) && entry.Kind == RootfsEntryKind.File && entry.Mode != mode)
        {
            _entries[path] = entry.WithMode(mode);
        }
    }

    public RootfsEntry AddContent(string path, byte[] content, UnixFileMode mode, string reason) =>
        Add(new RootfsEntry(path, RootfsEntryKind.File, FileMode(mode), reason) { Content = content, Size = content.Length });

    public RootfsEntry AddSymlink(string path, string target, string reason) =>
        Add(new RootfsEntry(path, RootfsEntryKind.Symlink, (UnixFileMode)0b111_111_111, reason) { LinkTarget = target, Size = System.Text.Encoding.UTF8.GetByteCount(target) });

    /// <summary>Plans an entry made whole elsewhere (a base image's path, its mode and owners its layer's): no rule of this plan changes it.</summary>
    public RootfsEntry AddAsMade(RootfsEntry entry) => Add(entry);

    public bool Remove(string path)
    {
        ThrowIfSealed();
        return _entries.Remove(path);
    }

    private RootfsEntry Add(RootfsEntry entry)
    {
        ThrowIfSealed();
        if (_entries.TryGetValue(entry.Path, out RootfsEntry? existing))
        {
            if (IsSame(existing, entry))
            {
                return existing;
            }

            throw Conflict(entry.Path, existing, entry.Reason);
        }

        EnsureParents(entry.Path, entry.Reason);
        _entries[entry.Path] = entry;
        return entry;
    }

    private static bool IsSame(RootfsEntry a, RootfsEntry b) =>
        a.Kind == b.Kind && a.Kind switch
        {
            RootfsEntryKind.Symlink => a.LinkTarget == b.LinkTarget,
            RootfsEntryKind.File => a.SourcePath is not null && a.SourcePath == b.SourcePath,
            _ => true,
        };

    private void EnsureParents(string path, string reason)
    {
        string parent = Parent(path);
        if (_entries.TryGetValue(parent, out RootfsEntry? existing))
        {
            if (existing.Kind != RootfsEntryKind.Directory)
            {
                throw new OciBundleException(Strings.PathConflict, path, $"{parent} is a {existing.Kind.ToString().ToLowerInvariant()} ({existing.Reason})", reason);
            }

            return;
        }

        EnsureParents(parent, reason);
        _entries[parent] = new RootfsEntry(parent, RootfsEntryKind.Directory, DirectoryMode, "parent directory");
    }

    private static OciBundleException Conflict(string path, RootfsEntry existing, string reason) =>
        new(Strings.PathConflict, path, existing.Reason, reason);

    public static string Parent(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }
}
