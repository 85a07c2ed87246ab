using OciBundle.Diagnostics;

namespace OciBundle.Rootfs;

/// <summary>
/// Everything that will be in rootfs, decided before a byte is written: paths, kinds, modes, sources and reasons.
/// Building the plan first is what lets the writer be atomic, incremental and reproducible, and lets the
/// provenance report say why each path is there.
/// </summary>
public sealed class RootfsPlan
{
    public const UnixFileMode DirectoryMode = (UnixFileMode)0b111_101_101; // 0755
    private const UnixFileMode SpecialBits = UnixFileMode.SetUser | UnixFileMode.SetGroup;

    private readonly Dictionary<string, RootfsEntry> _entries = new(StringComparer.Ordinal);

    public RootfsPlan()
    {
        _entries["/"] = new RootfsEntry("/", RootfsEntryKind.Directory, DirectoryMode, "root of the file system");
    }

    public int Count => _entries.Count;

    /// <summary>All entries, parents before children, in ordinal path order: the order they are written and reported in.</summary>
    public IEnumerable<RootfsEntry> Entries => _entries.Values.OrderBy(e => e.Path, StringComparer.Ordinal);

    public bool TryGet(string path, out RootfsEntry entry) => _entries.TryGetValue(path, out entry!);

    public RootfsEntry AddDirectory(string path, string reason, UnixFileMode mode = DirectoryMode, int? owner = null)
    {
        if (_entries.TryGetValue(path, out RootfsEntry? existing))
        {
            if (existing.Kind != RootfsEntryKind.Directory)
            {
                throw Conflict(path, existing, reason);
            }

            if (owner is not null || mode != DirectoryMode)
            {
                // An explicit rule (the app user's home, /tmp) wins over a parent created on the way.
                var replaced = new RootfsEntry(path, RootfsEntryKind.Directory, mode & ~SpecialBits, reason) { OwnerId = owner };
                _entries[path] = replaced;
                return replaced;
            }

            return existing;
        }

        EnsureParents(path, reason);
        var entry = new RootfsEntry(path, RootfsEntryKind.Directory, mode & ~SpecialBits, reason) { OwnerId = owner };
        _entries[path] = entry;
        return entry;
    }

    public RootfsEntry AddFile(string path, string sourcePath, UnixFileMode mode, long size, string reason) =>
        Add(new RootfsEntry(path, RootfsEntryKind.File, mode & ~SpecialBits, reason) { SourcePath = sourcePath, Size = size });

    public RootfsEntry AddContent(string path, byte[] content, UnixFileMode mode, string reason) =>
        Add(new RootfsEntry(path, RootfsEntryKind.File, mode & ~SpecialBits, reason) { Content = content, Size = content.Length });

    public RootfsEntry AddSymlink(string path, string target, string reason) =>
        Add(new RootfsEntry(path, RootfsEntryKind.Symlink, (UnixFileMode)0b111_111_111, reason) { LinkTarget = target, Size = System.Text.Encoding.UTF8.GetByteCount(target) });

    public bool Remove(string path) => _entries.Remove(path);

    private RootfsEntry Add(RootfsEntry entry)
    {
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
