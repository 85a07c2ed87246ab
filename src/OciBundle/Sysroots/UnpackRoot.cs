using System.Text;
using OciBundle.Diagnostics;
using OciBundle.Interop;

namespace OciBundle.Sysroots;

/// <summary>
/// The folder a <see cref="TarUnpacker"/> writes, and its rules for an archive's names: every name is made a relative
/// path inside it ('..' refused, a leading '/' dropped), every folder on the way is a real one of ours (looked up now,
/// never through a link the archive made), and a path is removed without following a link.
/// </summary>
internal sealed class UnpackRoot
{
    private const int MaxPathBytes = 4095;
    private const int MaxNameBytes = 255;

    private readonly string _root;
    private readonly string _source;
    private readonly HashSet<string> _checkedDirectories = new(StringComparer.Ordinal);

    /// <param name="root">The folder unpacked into.</param>
    /// <param name="source">How the errors name the sysroot (OciBundleSysroot's value).</param>
    public UnpackRoot(string root, string source)
    {
        _root = root;
        _source = source;
    }

    public string Host(string relative) => relative.Length == 0 ? _root : _root + "/" + relative;

    /// <summary>Remembers a folder the unpacker made or checked, so later entries below it need not look it up again.</summary>
    public void Checked(string relative) => _checkedDirectories.Add(relative);

    /// <summary>An entry's name as a relative path inside the root: './' and a leading '/' dropped, '..' refused.</summary>
    public string Clean(string name, string entryName)
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

    /// <summary>Whether a link target fits in a path (Linux's PATH_MAX).</summary>
    public static bool FitsInAPath(string target) => Encoding.UTF8.GetByteCount(target) <= MaxPathBytes;

    public bool UnderRealDirectories(string relative)
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
    public bool IsRealDirectory(string relative) =>
        UnderRealDirectories(relative) && NativeMethods.LStat(Host(relative)) is { } s && (s.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR;

    public static bool IsPlainPath(string relative) => relative.Split('/').All(p => p is not ("" or "." or ".."));

    /// <summary>Every existing parent of <paramref name="name"/> is a real folder of ours, never a symlink.</summary>
    public void CheckParents(string name, string entryName)
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
    public void EnsureDirectory(string relative, string entryName)
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
    public void Remove(string host)
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

    /// <summary>Makes a folder and every folder below it owner-writable and searchable, so it can be removed (links not followed).</summary>
    public static void MakeWritable(string dir)
    {
        File.SetUnixFileMode(dir, File.GetUnixFileMode(dir) | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (string sub in Directory.EnumerateDirectories(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = false }))
        {
            File.SetUnixFileMode(sub, File.GetUnixFileMode(sub) | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
