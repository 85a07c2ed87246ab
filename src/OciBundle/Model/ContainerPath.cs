namespace OciBundle.Model;

/// <summary>
/// Lexical rules for absolute, '/'-separated paths: the container's, and the host's where the same rule holds (an
/// output folder inside the publish folder, a link that leads out of the project). Nothing here reads a file system (the sysroot view
/// follows links as the kernel would).
/// </summary>
internal static class ContainerPath
{
    public static bool HasDotDot(string path) => path.Split('/').Contains("..");

    /// <summary>True when <paramref name="path"/> is <paramref name="dir"/> or below it.</summary>
    public static bool IsSameOrInside(string path, string dir) =>
        path == dir || path.StartsWith(dir.EndsWith('/') ? dir : dir + "/", StringComparison.Ordinal);

    internal static IEnumerable<string> Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    internal static string Join(string dir, string name) => dir == "/" ? "/" + name : dir + "/" + name;

    internal static string Parent(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }

    /// <summary>Makes a path absolute and lexically clean (no <c>.</c>, <c>..</c> or doubled slashes).</summary>
    public static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (string p in Split(path))
        {
            if (p == ".")
            {
                continue;
            }

            if (p == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }

                continue;
            }

            parts.Add(p);
        }

        return "/" + string.Join('/', parts);
    }
}
