using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// The ownership invariant, checked on a bundle as it lies on disk (issue 24): nothing in it sits under a folder that
/// a uid other than root (or, for a rootless bundle, the host user who runs it) owns, or that group or others may
/// write without the sticky bit; no file or link belongs to another uid or is writable by group or others. A host
/// account that could do either could replace what root runs from the bundle. An empty folder may belong to the app
/// user (the home of a bundle with a writable root): nothing lies under it.
/// </summary>
public static class BundleInvariant
{
    /// <summary>Asserts the invariant on <paramref name="bundleDir"/> (and the folders above it); <paramref name="rootlessHostUid"/>: the host user who owns a rootless bundle.</summary>
    public static void AssertNoHostUserCanReplaceIt(string bundleDir, uint? rootlessHostUid = null)
    {
        bundleDir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(bundleDir));
        var allowed = new HashSet<uint> { 0 };
        if (rootlessHostUid is { } uid)
        {
            allowed.Add(uid);
        }

        // One find for the whole tree: uid, mode in octal, type, path (a bundle's names hold no newline).
        ProcessResult find = TestEnvironment.RunCapture("find", bundleDir, "-printf", "%U %m %y %p\\n");
        Assert.AreEqual(0, find.ExitCode, find.All);
        var entries = new Dictionary<string, (uint Uid, int Mode, char Type)>(StringComparer.Ordinal);
        foreach (string line in find.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = line.Split(' ', 4);
            Assert.AreEqual(4, parts.Length, $"find printed '{line}'");
            entries[parts[3]] = (uint.Parse(parts[0]), Convert.ToInt32(parts[1], 8), parts[2][0]);
        }

        var problems = new List<string>();
        foreach ((string path, (uint owner, int mode, char type)) in entries)
        {
            if (type != 'd' && !allowed.Contains(owner))
            {
                problems.Add($"{path} belongs to uid {owner}");
            }

            if (type == 'f' && (mode & 0b000_010_010) != 0)
            {
                problems.Add($"{path} is writable by group or others (mode {Convert.ToString(mode, 8)})");
            }

            if (path != bundleDir && Replaceable(entries, Path.GetDirectoryName(path)!, allowed) is { } folder)
            {
                problems.Add($"{path} lies in {folder}");
            }
        }

        for (string? dir = bundleDir; dir is not null && dir != "/"; dir = Path.GetDirectoryName(dir))
        {
            // Above the bundle, only what a publish cannot choose: a folder others may write, not sticky.
            if (File.GetUnixFileMode(dir) is var mode && (mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0 && (mode & UnixFileMode.StickyBit) == 0)
            {
                problems.Add($"{bundleDir} lies in {dir}, which group or others may write");
            }
        }

        Assert.AreEqual(0, problems.Count, "paths of the bundle a host user other than root could replace:\n" + string.Join("\n", problems.Take(20)));
    }

    private static string? Replaceable(Dictionary<string, (uint Uid, int Mode, char Type)> entries, string folder, HashSet<uint> allowed) =>
        !entries.TryGetValue(folder, out var f) ? null
        : !allowed.Contains(f.Uid) ? $"{folder}, which belongs to uid {f.Uid}"
        : (f.Mode & 0b000_010_010) != 0 && (f.Mode & 0b1_000_000_000) == 0 ? $"{folder}, which group or others may write (mode {Convert.ToString(f.Mode, 8)})"
        : null;
}
