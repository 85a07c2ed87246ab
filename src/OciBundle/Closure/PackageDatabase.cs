namespace OciBundle.Closure;

/// <summary>
/// Which package of the sysroot owns each path, from its dpkg database (<c>var/lib/dpkg/info/*.list</c>), read once
/// per plan. A data rule takes a file only when a package installed it, so nothing the build machine made for itself
/// (a generated key, a local file dropped into a data folder) reaches rootfs unless the user names it; and scanners
/// are told which packages are inside. Paths are as the sysroot stores them: a merged-usr sysroot's
/// <c>/lib -&gt; usr/lib</c> makes a listed <c>/lib/x</c> the real <c>/usr/lib/x</c>.
/// </summary>
/// <remarks>
/// Inputs of the up-to-date check: the folder (dpkg replaces a list by renaming a new one in, which changes the
/// folder) and the list of each package the plan uses (<see cref="OwnerOf"/>), not all of the hundreds.
/// </remarks>
internal sealed class PackageDatabase
{
    /// <summary>The folder dpkg keeps its file lists in.</summary>
    public const string InfoDirectory = "/var/lib/dpkg/info";

    private static readonly string[] MergedDirectories = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

    private readonly Dictionary<string, string> _owners;
    private readonly Sysroot _sysroot;
    private readonly HashSet<string> _recorded = new(StringComparer.Ordinal);

    private PackageDatabase(Sysroot sysroot, Dictionary<string, string> owners)
    {
        _sysroot = sysroot;
        _owners = owners;
    }

    /// <summary>
    /// The database; null when the sysroot has none (not Debian-based, or a folder made by hand), where the caller
    /// decides what a missing owner means. A path two packages list (a shared folder) belongs to the first by name.
    /// </summary>
    public static PackageDatabase? Read(Sysroot sysroot)
    {
        string info = sysroot.HostPath(InfoDirectory);
        sysroot.Inputs?.Path(info);
        if (!Directory.Exists(info))
        {
            return null;
        }

        // An info folder with no package lists is no database either: mmdebstrap --variant=extract writes one.
        sysroot.Inputs?.Listing(info);
        if (!Directory.EnumerateFiles(info, "*.list").Any())
        {
            return null;
        }

        string[] merged = MergedDirectories
            .Where(d => new FileInfo(sysroot.HostPath("/" + d)).LinkTarget is { } target && target.TrimStart('/').TrimEnd('/') == "usr/" + d)
            .Select(d => "/" + d + "/")
            .ToArray();
        sysroot.Inputs?.Listing(info);
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string list in Directory.EnumerateFiles(info, "*.list").Order(StringComparer.Ordinal))
        {
            string package = Path.GetFileName(list)[..^".list".Length];
            foreach (string line in File.ReadLines(list))
            {
                if (line.Length > 1)
                {
                    owners.TryAdd(Canonical(line, merged), package);
                }
            }
        }

        return new PackageDatabase(sysroot, owners);
    }

    /// <summary>The package (<c>libc6:amd64</c>, <c>tzdata</c>) that lists <paramref name="path"/>, a real path of the sysroot; its list becomes an input.</summary>
    public string? OwnerOf(string path)
    {
        if (!_owners.TryGetValue(path, out string? package))
        {
            return null;
        }

        if (_recorded.Add(package))
        {
            _sysroot.Inputs?.Path(_sysroot.HostPath($"{InfoDirectory}/{package}.list"));
        }

        return package;
    }

    private static string Canonical(string listed, string[] merged)
    {
        string path = listed.Length > 1 ? listed.TrimEnd('/') : listed;
        foreach (string dir in merged)
        {
            if (path.StartsWith(dir, StringComparison.Ordinal) || path == dir.TrimEnd('/'))
            {
                return "/usr" + path;
            }
        }

        return path;
    }
}
