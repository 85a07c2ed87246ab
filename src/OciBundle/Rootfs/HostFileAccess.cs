using OciBundle.Interop;

namespace OciBundle.Rootfs;

/// <summary>
/// The host-file rule: a file of the build machine enters a bundle unnamed (as a program of <c>OciBundleArg</c>, a
/// library or data file of a sysroot folder) only when every user there may read it: readable by others, in folders
/// others may search, up to the sysroot's root. A file that is not may be a secret (a 0600 token, <c>/etc/shadow</c>,
/// a hard link to either under a harmless name); it enters only when an <c>OciBundleFile</c> item names it.
/// </summary>
internal static class HostFileAccess
{
    private const uint OthersRead = 0b100, OthersSearch = 0b001;

    /// <summary>
    /// Why <paramref name="hostPath"/> is not readable by everyone ("0640", or "0644, in /srv/root/etc, mode 0700"), its
    /// folders checked up to <paramref name="root"/>; null when it is. <paramref name="file"/> is the file's own lstat:
    /// the mode of the very inode the plan records, so a hard link to a root-only file is judged by that file's mode.
    /// </summary>
    public static string? Problem(string hostPath, string root, NativeMethods.Statx file)
    {
        string mode = Mode(file.Mode);
        if ((file.Mode & OthersRead) == 0)
        {
            return mode;
        }

        return FolderProblem(Path.GetDirectoryName(hostPath)!, root) is { } folder ? $"{mode}, in {folder}" : null;
    }

    /// <summary>The first folder from <paramref name="dir"/> up to <paramref name="root"/> (both included) that others may not search, with its mode; null when none.</summary>
    public static string? FolderProblem(string dir, string root)
    {
        for (; dir.Length >= root.Length; dir = Path.GetDirectoryName(dir) ?? "")
        {
            if (NativeMethods.LStat(dir) is { } d && (d.Mode & OthersSearch) == 0)
            {
                return $"{dir}, mode {Mode(d.Mode)}";
            }

            if (dir == "/" || dir == root)
            {
                break;
            }
        }

        return null;
    }

    /// <summary>A file's open descriptor still has the mode that let it in: checked on the inode the copy reads.</summary>
    public static bool IsPublic(uint mode) => (mode & OthersRead) != 0;

    private static string Mode(uint mode) => Convert.ToString(mode & 0xFFF, 8).PadLeft(4, '0');
}
