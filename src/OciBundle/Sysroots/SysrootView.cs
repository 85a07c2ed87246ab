using OciBundle.Rootfs;
using static OciBundle.Model.ContainerPath;

namespace OciBundle.Sysroots;

/// <summary>
/// The file system native libraries and data files are taken from (<c>OciBundleSysroot</c>, <c>/</c> by default).
/// Paths handed in and out are absolute paths inside it; symlinks are followed the way the kernel would follow
/// them if the sysroot were <c>/</c>, and every link on the way is reported so the bundle can reproduce it.
/// </summary>
internal sealed class SysrootView
{
    private const int MaxLinkHops = 40; // the kernel's own limit (MAXSYMLINKS)

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Node> _nodes = new(StringComparer.Ordinal); // the plan reads the dpkg database on another thread

    public SysrootView(string root)
    {
        string full = Path.GetFullPath(root);
        Root = full.Length > 1 ? full.TrimEnd('/') : full;
    }

    public string Root { get; }

    /// <summary>Records every path looked at (found or not), so the next publish sees any change that would change the plan.</summary>
    public State.InputLedger? Inputs { get; init; }

    public bool IsHostRoot => Root == "/";

    /// <summary>
    /// A folder the user named (or the build machine's <c>/</c>), not an archive unpacked into the cache: only files
    /// every user of the machine may read are taken from it (<see cref="HostFileAccess"/>), and each copy checks that
    /// again on the inode it opens.
    /// </summary>
    public bool PublicFilesOnly { get; init; }

    /// <summary>Where a sysroot path lives on the build machine.</summary>
    public string HostPath(string path) => IsHostRoot ? path : Root + path;

    /// <summary>
    /// Follows <paramref name="path"/> to the real file or directory it names. Returns null when it does not exist;
    /// otherwise the real path and each symlink met on the way (its own path and its target as written).
    /// </summary>
    public ResolvedPath? Resolve(string path)
    {
        var links = new List<SymlinkHop>();
        var pending = new Stack<string>(Split(path).Reverse());
        string current = "/";
        int hops = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = Parent(current);
                continue;
            }

            string next = Join(current, part);
            Node node = Stat(next);
            switch (node.Kind)
            {
                case NodeKind.Missing:
                    return null;
                case NodeKind.Symlink:
                    if (++hops > MaxLinkHops)
                    {
                        return null; // a loop: ELOOP to the loader, missing to us
                    }

                    links.Add(new SymlinkHop(next, node.LinkTarget!));
                    if (node.LinkTarget!.StartsWith('/'))
                    {
                        current = "/";
                    }

                    foreach (string p in Split(node.LinkTarget).Reverse())
                    {
                        pending.Push(p);
                    }

                    break;
                case NodeKind.File when pending.Count > 0:
                    return null; // a file used as a directory: ENOTDIR
                default:
                    current = next;
                    break;
            }
        }

        Node final = Stat(current);
        return new ResolvedPath(current, final.Kind == NodeKind.Directory, links);
    }

    /// <summary>
    /// Where a regular file of the sysroot is on the build machine, links followed as inside the sysroot (an absolute
    /// link is the sysroot's own path, never the host's); null when there is none there, or it is not a regular file
    /// (a FIFO would block the reader, a device would read forever).
    /// </summary>
    public string? RegularFile(string path)
    {
        if (Resolve(path) is not { IsDirectory: false } found)
        {
            return null;
        }

        // What the product reads of a sysroot folder to write into the bundle (dpkg status stanzas, license texts) follows
        // the host-file rule as what it copies does: a file not every user may read is as good as absent.
        string host = HostPath(found.RealPath);
        return Interop.NativeMethods.LStat(host) is { } s && (s.Mode & Interop.NativeMethods.S_IFMT) == Interop.NativeMethods.S_IFREG
            && (!PublicFilesOnly || HostFileAccess.Problem(host, Root, s) is null) ? host : null;
    }

    /// <summary>
    /// The text of a regular file of the sysroot (see <see cref="RegularFile"/>), or null when there is none; a file
    /// over <paramref name="maxBytes"/> is an <see cref="InvalidDataException"/> (a database that large is not one).
    /// </summary>
    public string? ReadText(string path, long maxBytes)
    {
        if (RegularFile(path) is not { } host)
        {
            return null;
        }

        using var stream = new FileStream(host, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (stream.Length > maxBytes)
        {
            throw new InvalidDataException($"it is {stream.Length} bytes, more than the {maxBytes} such a file may have");
        }

        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private Node Stat(string path)
    {
        if (_nodes.TryGetValue(path, out Node? cached))
        {
            return cached;
        }

        Node node;
        Inputs?.Path(HostPath(path));
        var info = new FileInfo(HostPath(path));
        if (info.LinkTarget is { } target)
        {
            node = new Node(NodeKind.Symlink, target);
        }
        else if (info.Exists)
        {
            node = new Node(NodeKind.File, null);
        }
        else if (Directory.Exists(info.FullName))
        {
            node = new Node(NodeKind.Directory, null);
        }
        else
        {
            node = new Node(NodeKind.Missing, null);
        }

        return _nodes.GetOrAdd(path, node); // the first answer for a path is every reader's, whichever thread asked first
    }

    private enum NodeKind { Missing, File, Directory, Symlink }

    private sealed record Node(NodeKind Kind, string? LinkTarget);
}

/// <summary>A symlink met while following a path: where it is and what it says.</summary>
internal sealed record SymlinkHop(string Path, string Target); // a class: lists of it run the framework's precompiled code

/// <summary>The real path a sysroot path leads to, and the links on the way.</summary>
internal sealed record ResolvedPath(string RealPath, bool IsDirectory, IReadOnlyList<SymlinkHop> Links);
