using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using OciBundle.Diagnostics;
using OciBundle.Interop;

namespace OciBundle.Sysroots;

/// <summary>
/// Unpacks tar streams into one folder that nothing else writes (a cache entry's staging folder), the way a hostile
/// archive cannot turn against the build: no entry leaves the folder ('..' is refused, a leading '/' is dropped, as tar
/// does), nothing is written through a symlink (a parent that the archive made a link is refused; files are created
/// new, so an existing link at the name is replaced, never followed), hard links name only files already unpacked,
/// setuid and setgid bits are dropped, device nodes and FIFOs are skipped (an mmdebstrap tarball carries /dev, which
/// the runtime mounts anyway). Layers of an OCI image are applied in order with their whiteouts.
/// </summary>
internal sealed class TarUnpacker
{
    private const int MaxPathBytes = 4095;
    private const int MaxNameBytes = 255;

    private readonly string _root;
    private readonly string _source;
    private readonly HashSet<string> _checkedDirectories = new(StringComparer.Ordinal);
    private readonly List<(string Relative, UnixFileMode Mode)> _directoryModes = new();

    /// <param name="root">The folder to unpack into; it exists and is empty or holds earlier layers.</param>
    /// <param name="source">How the errors name the sysroot (OciBundleSysroot's value).</param>
    public TarUnpacker(string root, string source)
    {
        _root = root;
        _source = source;
    }

    /// <summary>
    /// Only folders, files and hard links between them, as in an OCI archive (skopeo writes no others): a symlink there
    /// would make a blob or index.json read from outside the archive.
    /// </summary>
    public bool FilesOnly { get; init; }

    /// <summary>Device nodes, FIFOs and sockets left out, counted for the log.</summary>
    public int SkippedSpecialFiles { get; private set; }

    public int Entries { get; private set; }

    /// <summary>A tar stream from <paramref name="raw"/>, decompressed as <paramref name="path"/>'s first bytes say: gzip, zstd, or plain.</summary>
    public static Stream Decompressed(Stream raw, string path)
    {
        var buffered = new BufferedStream(raw, 1 << 16);
        return Sniff(path) switch
        {
            TarCompression.Gzip => new GZipStream(buffered, CompressionMode.Decompress),
            TarCompression.Zstd => new ZstdSharp.DecompressionStream(buffered),
            _ => buffered,
        };
    }

    /// <summary>True when the file's first bytes are gzip's or zstd's.</summary>
    public static bool IsCompressed(string path) => Sniff(path) != TarCompression.None;

    private enum TarCompression { None, Gzip, Zstd }

    private static TarCompression Sniff(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        Span<byte> magic = stackalloc byte[4];
        int n = f.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        return n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b ? TarCompression.Gzip
            : n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd ? TarCompression.Zstd
            : TarCompression.None;
    }

    /// <summary>Unpacks one tar stream; <paramref name="layer"/>: an OCI layer, whose <c>.wh.</c> entries remove what earlier layers wrote.</summary>
    public void Unpack(Stream tar, bool layer)
    {
        var writtenThisLayer = new HashSet<string>(StringComparer.Ordinal);
        var opaque = new List<string>();
        string? last = null;
        try
        {
            using var reader = new TarReader(tar, leaveOpen: true);
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
            throw new OciBundleException(Strings.SysrootUnreadable, _source, e.Message);
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
        if (!IsRealDirectory(dir))
        {
            return; // the layer may have made the folder or a parent a link since its marker
        }

        foreach (string child in Directory.EnumerateFileSystemEntries(Host(dir)).ToList())
        {
            string relative = dir.Length == 0 ? Path.GetFileName(child) : dir + "/" + Path.GetFileName(child);
            if (!touched.Contains(relative))
            {
                Remove(child);
            }
            else
            {
                Prune(relative, touched);
            }
        }
    }

    /// <summary>Gives every folder the mode its entry asked for (kept owner-writable until then, so later entries can go in).</summary>
    public void Finish()
    {
        foreach ((string relative, UnixFileMode mode) in _directoryModes)
        {
            // Afresh, folder by folder: a later entry may have made a parent a link (a, a/v, then a -> /etc: never chmod /etc/v).
            if (IsRealDirectory(relative))
            {
                File.SetUnixFileMode(Host(relative), mode);
            }
        }
    }

    private void Apply(TarEntry entry, bool layer, HashSet<string> writtenThisLayer, List<string> opaque)
    {
        string name = Clean(entry.Name, entry.Name);
        if (name.Length == 0)
        {
            return; // the root itself ("./")
        }

        string parent = name.Contains('/') ? name[..name.LastIndexOf('/')] : "";
        string leaf = name[(parent.Length == 0 ? 0 : parent.Length + 1)..];
        if (layer && leaf.StartsWith(".wh.", StringComparison.Ordinal))
        {
            CheckParents(name, entry.Name);
            if (leaf == ".wh..wh..opq")
            {
                opaque.Add(parent);
            }
            else
            {
                string hiddenName = leaf[4..];
                if (hiddenName == "..")
                {
                    throw new OciBundleException(Strings.SysrootEntryOutsideRoot, _source, entry.Name);
                }

                if (hiddenName is "" or ".")
                {
                    throw new OciBundleException(Strings.SysrootUnsupportedEntry, _source, entry.Name, "a whiteout that names no file of its folder");
                }

                string hidden = Host(parent.Length == 0 ? hiddenName : parent + "/" + hiddenName);
                if (NativeMethods.LStat(hidden) is not null)
                {
                    Remove(hidden);
                }
            }

            return;
        }

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
                return;
            case TarEntryType.GlobalExtendedAttributes:
                return;
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

        CheckParents(name, entry.Name);
        EnsureDirectory(parent, entry.Name);
        string host = Host(name);
        writtenThisLayer.Add(name);
        NativeMethods.Statx? existing = NativeMethods.LStat(host);
        bool existingIsDir = existing is { } ex && (ex.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR;
        if (entry.EntryType == TarEntryType.Directory)
        {
            if (existing is not null && !existingIsDir)
            {
                Remove(host);
                existing = null;
            }

            if (existing is null)
            {
                Directory.CreateDirectory(host);
            }

            _checkedDirectories.Add(name);
            // Owner-writable and searchable, whatever the archive says (a 0555 folder could not be filled or removed); no setgid.
            UnixFileMode mode = (UnixFileMode)((int)entry.Mode & 0b1_111_111_111) | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            File.SetUnixFileMode(host, mode);
            _directoryModes.Add((name, mode));
            return;
        }

        if (existing is not null)
        {
            Remove(host);
        }

        switch (entry.EntryType)
        {
            case TarEntryType.SymbolicLink:
                // Kept as written, absolute or not: the closure follows links inside the sysroot, never on the host.
                if (entry.LinkName.Length == 0 || entry.LinkName.Contains('\0') || Encoding.UTF8.GetByteCount(entry.LinkName) > MaxPathBytes)
                {
                    throw new OciBundleException(Strings.SysrootUnsupportedEntry, _source, entry.Name, "a symlink with an empty or over-long target");
                }

                File.CreateSymbolicLink(host, entry.LinkName);
                break;
            case TarEntryType.HardLink:
                string target = Clean(entry.LinkName, entry.Name);
                string hostTarget = Host(target);
                // The target's folders too must be real ones of ours: through a link the archive made, lstat would
                // reach a file of the build machine (d -> /etc, then a hard link to d/shadow).
                if (target.Length == 0 || !IsPlainPath(target) || !UnderRealDirectories(target)
                    || NativeMethods.LStat(hostTarget) is not { } t || (t.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG)
                {
                    throw new OciBundleException(Strings.SysrootHardLinkOutsideRoot, _source, entry.Name, entry.LinkName);
                }

                if (NativeMethods.link(hostTarget, host) != 0)
                {
                    // A file system that refuses hard links: a copy holds the same bytes.
                    File.Copy(hostTarget, host);
                }

                break;
            default:
                WriteFile(host, entry);
                break;
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

    /// <summary>An entry's name as a relative path inside the root: './' and a leading '/' dropped, '..' refused.</summary>
    private string Clean(string name, string entryName)
    {
        if (name.Contains('\0') || Encoding.UTF8.GetByteCount(name) > MaxPathBytes)
        {
            throw new OciBundleException(Strings.SysrootUnsupportedEntry, _source, entryName, "a name longer than 4095 bytes or with a NUL");
        }

        var parts = new List<string>();
        foreach (string part in name.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                throw new OciBundleException(Strings.SysrootEntryOutsideRoot, _source, entryName);
            }

            if (Encoding.UTF8.GetByteCount(part) > MaxNameBytes)
            {
                throw new OciBundleException(Strings.SysrootUnsupportedEntry, _source, entryName, "a name longer than 255 bytes");
            }

            parts.Add(part);
        }

        return string.Join('/', parts);
    }

    private bool UnderRealDirectories(string relative)
    {
        for (int slash = relative.IndexOf('/'); slash > 0; slash = relative.IndexOf('/', slash + 1))
        {
            if (NativeMethods.LStat(Host(relative[..slash])) is not { } s || (s.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFDIR)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether the relative path is a folder reached through real folders only (each looked up now, none followed).</summary>
    private bool IsRealDirectory(string relative) =>
        UnderRealDirectories(relative) && NativeMethods.LStat(Host(relative)) is { } s && (s.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR;

    private static bool IsPlainPath(string relative) => relative.Split('/').All(p => p is not ("" or "." or ".."));

    private string Host(string relative) => relative.Length == 0 ? _root : _root + "/" + relative;

    /// <summary>Every existing parent of <paramref name="name"/> is a real folder of ours, never a symlink.</summary>
    private void CheckParents(string name, string entryName)
    {
        int slash = -1;
        while ((slash = name.IndexOf('/', slash + 1)) > 0)
        {
            string dir = name[..slash];
            if (_checkedDirectories.Contains(dir))
            {
                continue;
            }

            if (NativeMethods.LStat(Host(dir)) is { } s)
            {
                if ((s.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFDIR)
                {
                    throw new OciBundleException(Strings.SysrootEntryThroughSymlink, _source, entryName, "/" + dir);
                }

                _checkedDirectories.Add(dir);
            }
        }
    }

    /// <summary>Makes the missing parents (an archive may name a file before its folder, or never name the folder).</summary>
    private void EnsureDirectory(string relative, string entryName)
    {
        if (relative.Length == 0 || _checkedDirectories.Contains(relative) && NativeMethods.LStat(Host(relative)) is { } d && (d.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR)
        {
            return;
        }

        int slash = -1;
        while (true)
        {
            slash = relative.IndexOf('/', slash + 1);
            string dir = slash < 0 ? relative : relative[..slash];
            string host = Host(dir);
            if (NativeMethods.LStat(host) is { } s)
            {
                if ((s.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFDIR)
                {
                    throw new OciBundleException(Strings.SysrootEntryThroughSymlink, _source, entryName, "/" + dir);
                }
            }
            else
            {
                Directory.CreateDirectory(host);
                File.SetUnixFileMode(host, (UnixFileMode)0b111_101_101);
            }

            _checkedDirectories.Add(dir);
            if (slash < 0)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Removes a path of the unpacked tree, never following a link (a folder's links are removed, not what they name),
    /// and forgets that it or anything below it was checked to be a real folder: a link may take its name next.
    /// </summary>
    private void Remove(string host)
    {
        string relative = host.Length > _root.Length ? host[(_root.Length + 1)..] : "";
        _checkedDirectories.RemoveWhere(d => relative.Length == 0 || d == relative || d.StartsWith(relative + "/", StringComparison.Ordinal));

        if (NativeMethods.LStat(host) is { } s && (s.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR)
        {
            MakeWritable(host);
            Directory.Delete(host, recursive: true);
        }
        else
        {
            File.Delete(host);
        }
    }

    internal static void MakeWritable(string dir)
    {
        File.SetUnixFileMode(dir, File.GetUnixFileMode(dir) | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (string sub in Directory.EnumerateDirectories(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = false }))
        {
            File.SetUnixFileMode(sub, File.GetUnixFileMode(sub) | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
