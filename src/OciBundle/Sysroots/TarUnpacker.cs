using System.Formats.Tar;
using OciBundle.Diagnostics;
using OciBundle.Interop;

namespace OciBundle.Sysroots;

/// <summary>
/// Unpacks tar streams into one folder that nothing else writes (a cache entry's staging folder), the way a hostile
/// archive cannot turn against the build: no entry leaves the folder ('..' is refused, a leading '/' is dropped, as tar
/// does), nothing is written through a symlink (a parent that the archive made a link is refused; files are created
/// new, so an existing link at the name is replaced, never followed), hard links name only files already unpacked,
/// setuid and setgid bits are dropped, device nodes and FIFOs are skipped (an mmdebstrap tarball carries /dev, which
/// the runtime mounts anyway). Layers of an OCI image are applied in order with their whiteouts. What the tree cannot
/// keep of each path (its owner, group and full mode, as the headers of the layer that wrote it last say) is recorded
/// in <see cref="OwnershipFile"/>.
/// </summary>
internal sealed class TarUnpacker
{
    private readonly string _root;
    private readonly string _source;
    private readonly UnpackRoot _tree;
    private readonly List<(string Relative, UnixFileMode Mode)> _directoryModes = new();
    private readonly Dictionary<string, HeaderOwnership> _headers = new(StringComparer.Ordinal);

    /// <param name="root">The folder to unpack into; it exists and is empty or holds earlier layers.</param>
    /// <param name="source">How the errors name the sysroot (OciBundleSysroot's value).</param>
    public TarUnpacker(string root, string source)
    {
        _root = root;
        _source = source;
        _tree = new UnpackRoot(root, source);
    }

    /// <summary>
    /// Only folders, files and hard links between them, as in an OCI archive (skopeo writes no others): a symlink there
    /// would make a blob or index.json read from outside the archive.
    /// </summary>
    public bool FilesOnly { get; init; }

    /// <summary>Device nodes, FIFOs and sockets left out, counted for the log.</summary>
    public int SkippedSpecialFiles { get; private set; }

    public int Entries { get; private set; }

    /// <summary>Where <see cref="Finish"/> records every unpacked path's owner, group and full mode (<see cref="HeaderOwnershipRecord"/>); null: nowhere.</summary>
    public string? OwnershipFile { get; init; }

    /// <summary>Unpacks one tar stream; <paramref name="layer"/>: an OCI layer, whose <c>.wh.</c> entries remove what earlier layers wrote.</summary>
    public void Unpack(Stream tar, bool layer)
    {
        var writtenThisLayer = new HashSet<string>(StringComparer.Ordinal);
        var opaque = new List<string>();
        string? last = null;
        try
        {
            using var reader = new TarReader(new MissingEndBlocks(tar), leaveOpen: true);
            while (reader.GetNextEntry(copyData: false) is { } entry)
            {
                Entries++;
                last = entry.Name;
                Apply(entry, layer, writtenThisLayer, opaque);
            }
        }
        catch (NotSupportedException)
        {
            // .NET's reader refuses a GNU sparse entry ('S') or a multi-volume one ('M') before handing it out, so the
            // entry is named by the one before it.
            throw new OciBundleException(Strings.SysrootUnsupportedEntry, _source, last is null ? "(the first entry)" : $"(the entry after '{last}')", "a sparse file (GNU tar --sparse) or a multi-volume entry");
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException or InvalidOperationException or IOException or OverflowException or ZstdSharp.ZstdException)
        {
            throw new OciBundleException(Strings.SysrootUnreadable, _source, e.Message.TrimEnd('.'));
        }

        // An opaque folder hides everything earlier layers put in it, at every depth: applied after the layer, keeping
        // what the layer itself wrote and the folders above it (named by an entry or not), and nothing else of theirs.
        if (opaque.Count > 0)
        {
            var touched = new HashSet<string>(StringComparer.Ordinal);
            foreach (string written in writtenThisLayer)
            {
                for (string p = written; p.Length > 0 && touched.Add(p); p = p.Contains('/') ? p[..p.LastIndexOf('/')] : "")
                {
                }
            }

            foreach (string dir in opaque)
            {
                Prune(dir, touched);
            }
        }
    }

    /// <summary>Removes below <paramref name="dir"/> everything the current layer did not write, looked up afresh folder by folder (never through a link).</summary>
    private void Prune(string dir, HashSet<string> touched)
    {
        if (!_tree.IsRealDirectory(dir))
        {
            return; // the layer may have made the folder or a parent a link since its marker
        }

        foreach (string child in Directory.EnumerateFileSystemEntries(_tree.Host(dir)).ToList())
        {
            string relative = dir.Length == 0 ? Path.GetFileName(child) : dir + "/" + Path.GetFileName(child);
            if (!touched.Contains(relative))
            {
                Remove(relative);
            }
            else
            {
                Prune(relative, touched);
            }
        }
    }

    /// <summary>
    /// Gives every folder the mode its entry asked for (kept owner-writable until then, so later entries can go in), and
    /// records every path's header (<see cref="OwnershipFile"/>).
    /// </summary>
    public void Finish()
    {
        if (OwnershipFile is { } record)
        {
            HeaderOwnershipRecord.Write(record, _headers.Select(p => KeyValuePair.Create("/" + p.Key, p.Value)));
        }

        foreach ((string relative, UnixFileMode mode) in _directoryModes)
        {
            // Afresh, folder by folder: a later entry may have made a parent a link (a, a/v, then a -> /etc: never chmod /etc/v).
            if (_tree.IsRealDirectory(relative))
            {
                File.SetUnixFileMode(_tree.Host(relative), mode);
            }
        }
    }

    private void Apply(TarEntry entry, bool layer, HashSet<string> writtenThisLayer, List<string> opaque)
    {
        string name = _tree.Clean(entry.Name, entry.Name);
        if (name.Length == 0)
        {
            return; // the root itself ("./")
        }

        string parent = name.Contains('/') ? name[..name.LastIndexOf('/')] : "";
        string leaf = name[(parent.Length == 0 ? 0 : parent.Length + 1)..];
        if (layer && leaf.StartsWith(".wh.", StringComparison.Ordinal))
        {
            Whiteout(name, parent, leaf, entry.Name, opaque);
            return;
        }

        if (!Admitted(entry))
        {
            return;
        }

        _tree.CheckParents(name, entry.Name);
        _tree.EnsureDirectory(parent, entry.Name);
        string host = _tree.Host(name);
        writtenThisLayer.Add(name);
        NativeMethods.Statx? existing = NativeMethods.LStat(host);
        if (entry.EntryType == TarEntryType.Directory)
        {
            MakeDirectory(name, host, existing, entry);
            _headers[name] = new HeaderOwnership(entry.Uid, entry.Gid, entry.Mode & (UnixFileMode)0xFFF);
            return;
        }

        if (existing is not null)
        {
            Remove(name);
        }

        _headers[name] = new HeaderOwnership(entry.Uid, entry.Gid, entry.Mode & (UnixFileMode)0xFFF);

        switch (entry.EntryType)
        {
            case TarEntryType.SymbolicLink:
                MakeSymlink(host, entry);
                break;
            case TarEntryType.HardLink:
                MakeHardLink(host, entry);
                break;
            default:
                WriteFile(host, entry);
                break;
        }
    }

    /// <summary>A layer's <c>.wh.</c> entry: an opaque folder's marker (applied after the layer), or the removal of what it names.</summary>
    private void Whiteout(string name, string parent, string leaf, string entryName, List<string> opaque)
    {
        _tree.CheckParents(name, entryName);
        if (leaf == ".wh..wh..opq")
        {
            opaque.Add(parent);
            return;
        }

        string hiddenName = leaf[4..];
        if (hiddenName == "..")
        {
            throw new OciBundleException(Strings.SysrootEntryOutsideRoot, _source, entryName);
        }

        if (hiddenName is "" or ".")
        {
            throw new OciBundleException(Strings.SysrootUnsupportedEntry, _source, entryName, "a whiteout that names no file of its folder");
        }

        string hidden = parent.Length == 0 ? hiddenName : parent + "/" + hiddenName;
        if (NativeMethods.LStat(_tree.Host(hidden)) is not null)
        {
            Remove(hidden);
        }
    }

    /// <summary>Removes a path of the tree (never through a link) and forgets its header and those of everything below it.</summary>
    private void Remove(string relative)
    {
        string host = _tree.Host(relative);
        bool folder = NativeMethods.LStat(host) is { } s && (s.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR;
        _tree.Remove(host);
        _headers.Remove(relative);
        if (folder)
        {
            string below = relative + "/";
            foreach (string key in _headers.Keys.Where(k => k.StartsWith(below, StringComparison.Ordinal)).ToList())
            {
                _headers.Remove(key);
            }
        }
    }

    /// <summary>Whether an entry is unpacked: folders, files, links; device nodes and FIFOs skipped and counted; anything else refused.</summary>
    private bool Admitted(TarEntry entry)
    {
        // A POSIX sparse file (GNU tar --sparse --format=posix) reads as a regular file whose data is the map and the
        // pieces, not the file: unpacked as it reads, it would be a different file under the same name.
        if (entry is PaxTarEntry pax && pax.ExtendedAttributes.Keys.Any(k => k.StartsWith("GNU.sparse.", StringComparison.Ordinal)))
        {
            throw new OciBundleException(Strings.SysrootUnsupportedEntry, _source, entry.Name, "a sparse file (GNU tar --sparse, POSIX format)");
        }

        switch (entry.EntryType)
        {
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                SkippedSpecialFiles++;
                return false;
            case TarEntryType.GlobalExtendedAttributes:
                return false;
            case TarEntryType.Directory:
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
            case TarEntryType.SymbolicLink:
            case TarEntryType.HardLink:
                break;
            default:
                throw new OciBundleException(Strings.SysrootUnsupportedEntry, _source, entry.Name, $"tar entry type {entry.EntryType}");
        }

        if (FilesOnly && entry.EntryType is not (TarEntryType.Directory or TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.HardLink))
        {
            throw new OciBundleException(Strings.SysrootUnsupportedEntry, _source, entry.Name, $"a {entry.EntryType} in an OCI archive, whose blobs, index.json and oci-layout are files");
        }

        return true;
    }

    private void MakeDirectory(string name, string host, NativeMethods.Statx? existing, TarEntry entry)
    {
        if (existing is { } ex && (ex.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFDIR)
        {
            _tree.Remove(host);
            existing = null;
        }

        if (existing is null)
        {
            Directory.CreateDirectory(host);
        }

        _tree.Checked(name);
        // Owner-writable and searchable, whatever the archive says (a 0555 folder could not be filled or removed); no setgid.
        UnixFileMode mode = (UnixFileMode)((int)entry.Mode & 0b1_111_111_111) | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        File.SetUnixFileMode(host, mode);
        _directoryModes.Add((name, mode));
    }

    private void MakeSymlink(string host, TarEntry entry)
    {
        // Kept as written, absolute or not: the closure follows links inside the sysroot, never on the host.
        if (entry.LinkName.Length == 0 || entry.LinkName.Contains('\0') || !UnpackRoot.FitsInAPath(entry.LinkName))
        {
            throw new OciBundleException(Strings.SysrootUnsupportedEntry, _source, entry.Name, "a symlink with an empty or over-long target");
        }

        File.CreateSymbolicLink(host, entry.LinkName);
    }

    private void MakeHardLink(string host, TarEntry entry)
    {
        string target = _tree.Clean(entry.LinkName, entry.Name);
        string hostTarget = _tree.Host(target);
        // The target's folders too must be real ones of ours: through a link the archive made, lstat would
        // reach a file of the build machine (d -> /etc, then a hard link to d/shadow).
        if (target.Length == 0 || !UnpackRoot.IsPlainPath(target) || !_tree.UnderRealDirectories(target)
            || NativeMethods.LStat(hostTarget) is not { } t || (t.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG)
        {
            throw new OciBundleException(Strings.SysrootHardLinkOutsideRoot, _source, entry.Name, entry.LinkName);
        }

        if (NativeMethods.link(hostTarget, host) != 0)
        {
            // A file system that refuses hard links: a copy holds the same bytes.
            File.Copy(hostTarget, host);
        }
    }

    private void WriteFile(string host, TarEntry entry)
    {
        try
        {
            WriteFileContents(host, entry);
        }
        catch (IOException e) when (e is not EndOfStreamException && e.GetType() == typeof(IOException) && e.HResult != 0 && (e.HResult & 0xFFFF) is 28 or 122 or 30)
        {
            // ENOSPC, EDQUOT, EROFS: the cache's fault, not the archive's.
            throw new OciBundleException(Strings.SysrootCacheFailed, _root, e.Message.TrimEnd('.'));
        }
    }

    private static void WriteFileContents(string host, TarEntry entry)
    {
        // No setuid, setgid or sticky bit: a sysroot's files are read, never run with privileges. Owner-readable always.
        UnixFileMode mode = (UnixFileMode)((int)entry.Mode & 0b111_111_111) | UnixFileMode.UserRead;
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite, BufferSize = 0 };
        using var output = new FileStream(host, options);
        if (entry.DataStream is { } data)
        {
            data.CopyTo(output, 1 << 16);
        }

        File.SetUnixFileMode(output.SafeFileHandle, mode);
    }
}
