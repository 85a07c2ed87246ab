namespace OciBundle.Closure;

/// <summary>
/// Which paths the sysroot's packages own, from its dpkg database (<c>var/lib/dpkg/info/*.list</c>): a data rule takes a
/// file only when a package installed it, so nothing the build machine made for itself (a generated key, a local
/// file dropped into a data folder) reaches rootfs unless the user names it. Paths are as the sysroot stores them:
/// a merged-usr sysroot's <c>/lib -&gt; usr/lib</c> makes a listed <c>/lib/x</c> the real <c>/usr/lib/x</c>.
/// </summary>
internal sealed class PackageDatabase
{
    private static readonly string[] MergedDirectories = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

    private readonly HashSet<string> _owned;

    private PackageDatabase(HashSet<string> owned) => _owned = owned;

    /// <summary>The folder dpkg keeps its file lists in.</summary>
    public const string InfoDirectory = "/var/lib/dpkg/info";

    /// <summary>
    /// The database's paths under <paramref name="prefix"/> (all of them for <c>/</c>); null when the sysroot has no dpkg
    /// database (not Debian-based, or a folder made by hand), where the caller decides what a missing owner means.
    /// </summary>
    public static PackageDatabase? Read(Sysroot sysroot, string prefix)
    {
        string info = sysroot.HostPath(InfoDirectory);
        if (!Directory.Exists(info))
        {
            sysroot.Inputs?.Path(info);
            return null;
        }

        var merged = MergedDirectories
            .Where(d => new FileInfo(sysroot.HostPath("/" + d)).LinkTarget is { } target && target.TrimStart('/').TrimEnd('/') == "usr/" + d)
            .Select(d => "/" + d + "/")
            .ToArray();
        // dpkg replaces a list by renaming a new one in, which changes the folder: its identity and listing cover every
        // list, so only the lists that name the prefix are inputs of their own.
        sysroot.Inputs?.Path(info);
        sysroot.Inputs?.Listing(info);
        var owned = new HashSet<string>(StringComparer.Ordinal);
        byte[][] needles = new[] { prefix }.Concat(merged.Where(m => prefix.StartsWith("/usr" + m, StringComparison.Ordinal)).Select(m => m + prefix[("/usr" + m).Length..]))
            .Select(n => System.Text.Encoding.UTF8.GetBytes(n == "/" ? "/" : n.TrimEnd('/'))).ToArray();
        foreach (string list in Directory.EnumerateFiles(info, "*.list").Order(StringComparer.Ordinal))
        {
            byte[] bytes = File.ReadAllBytes(list);
            if (!needles.Any(n => bytes.AsSpan().IndexOf(n) >= 0))
            {
                continue; // most lists name nothing under the prefix: a byte search, no lines made
            }

            sysroot.Inputs?.Path(list);
            foreach (string line in System.Text.Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string path = Canonical(line, merged);
                if (Output.OutputFolder.IsSameOrInside(path, prefix))
                {
                    owned.Add(path);
                }
            }
        }

        return new PackageDatabase(owned);
    }

    /// <summary>True when a package lists <paramref name="path"/> (a real path of the sysroot).</summary>
    public bool Owns(string path) => _owned.Contains(path);

    /// <summary>
    /// Every path's package, from every list (<c>libc6:amd64.list</c> gives <c>libc6:amd64</c>); null when the sysroot
    /// has no dpkg database. A path two packages list (a shared folder) belongs to the first in name order.
    /// </summary>
    public static Dictionary<string, string>? ReadOwners(Sysroot sysroot)
    {
        string info = sysroot.HostPath(InfoDirectory);
        if (!Directory.Exists(info))
        {
            return null;
        }

        var merged = MergedDirectories
            .Where(d => new FileInfo(sysroot.HostPath("/" + d)).LinkTarget is { } target && target.TrimStart('/').TrimEnd('/') == "usr/" + d)
            .Select(d => "/" + d + "/")
            .ToArray();
        sysroot.Inputs?.Path(info);
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

        return owners;
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
