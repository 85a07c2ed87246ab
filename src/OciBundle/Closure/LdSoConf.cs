using OciBundle.Model;
using OciBundle.Sysroots;

namespace OciBundle.Closure;

/// <summary>
/// Reads <c>/etc/ld.so.conf</c> as ldconfig does: one directory per line (or several, split by white space,
/// commas or colons), <c>#</c> comments, and <c>include</c> lines whose glob patterns are relative to the file
/// that names them. <c>hwcap</c> lines are ignored, as glibc has ignored them since 2.37.
/// </summary>
internal static class LdSoConf
{
    private const int MaxIncludeDepth = 16;

    /// <summary>The directories named by the sysroot's <c>/etc/ld.so.conf</c>, in order, each once.</summary>
    public static IReadOnlyList<string> ReadDirectories(SysrootView sysroot, string path = "/etc/ld.so.conf")
    {
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Read(sysroot, path, result, seen, new HashSet<string>(StringComparer.Ordinal), 0);
        return result;
    }

    private static void Read(SysrootView sysroot, string path, List<string> result, HashSet<string> seen, HashSet<string> visited, int depth)
    {
        if (depth > MaxIncludeDepth || !visited.Add(path))
        {
            return;
        }

        string[] lines;
        sysroot.Inputs?.Path(sysroot.HostPath(path));
        try
        {
            lines = File.ReadAllLines(sysroot.HostPath(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        string dir = ContainerPath.Parent(path);
        foreach (string raw in lines)
        {
            int hash = raw.IndexOf('#');
            string line = (hash >= 0 ? raw[..hash] : raw).Trim();
            if (line.Length == 0 || line.StartsWith("hwcap ", StringComparison.Ordinal))
            {
                continue;
            }

            if (line.StartsWith("include", StringComparison.Ordinal) && line.Length > 7 && char.IsWhiteSpace(line[7]))
            {
                foreach (string pattern in line[8..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                {
                    string absolute = pattern.StartsWith('/') ? pattern : ContainerPath.Join(dir, pattern);
                    foreach (string included in Glob(sysroot, absolute))
                    {
                        Read(sysroot, included, result, seen, visited, depth + 1);
                    }
                }

                continue;
            }

            foreach (string entry in line.Split(new[] { ' ', '\t', ',', ':' }, StringSplitOptions.RemoveEmptyEntries))
            {
                string d = ContainerPath.Normalize(entry);
                if (entry.StartsWith('/') && seen.Add(d))
                {
                    result.Add(d);
                }
            }
        }
    }

    /// <summary>Expands a glob whose wildcards are in the last component only, as every real ld.so.conf does; sorted like glob(3).</summary>
    private static IEnumerable<string> Glob(SysrootView sysroot, string pattern)
    {
        string dir = ContainerPath.Parent(pattern);
        string name = pattern[(dir.Length == 1 ? 1 : dir.Length + 1)..];
        string hostDir = sysroot.HostPath(dir);
        sysroot.Inputs?.Listing(hostDir);
        if (!Directory.Exists(hostDir))
        {
            return Array.Empty<string>();
        }

        if (name.IndexOfAny(new[] { '*', '?', '[' }) < 0)
        {
            return File.Exists(Path.Combine(hostDir, name)) ? new[] { pattern } : Array.Empty<string>();
        }

        return Directory.EnumerateFiles(hostDir, name)
            .Select(f => ContainerPath.Join(dir, Path.GetFileName(f)))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToArray();
    }
}
