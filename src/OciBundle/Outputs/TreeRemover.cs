using System.Runtime.InteropServices;
using System.Text;
using OciBundle.Interop;

namespace OciBundle.Outputs;

/// <summary>
/// Removes an old output tree the way <c>rm --one-file-system</c> would if it could not be fooled: every folder is
/// opened relative to its parent's descriptor with <c>O_NOFOLLOW</c>, so a folder someone swaps for a symlink while
/// the tree is removed (a user who can write <c>rootfs/tmp</c>, say) is unlinked as a link, never followed; a mount
/// inside the tree (another mount id) is left, with all it holds; names are handled as bytes. Written by hand because
/// <see cref="Directory.Delete(string, bool)"/> works by path, follows swapped folders and crosses mounts.
/// </summary>
internal static class TreeRemover
{
    /// <summary>
    /// Removes <paramref name="path"/>; with <paramref name="onlyTopLevel"/>, only those entries of it (what the product
    /// writes there), leaving anything else someone added. Returns what was left and why, or null when all is gone.
    /// </summary>
    /// <param name="path">The tree.</param>
    /// <param name="onlyTopLevel">Only these entries of the tree's top (what the product writes there).</param>
    /// <param name="written">
    /// When known, the paths (relative to the tree) the product wrote: anything else in the tree (what a container
    /// wrote into a writable root, a file someone put there) is kept, and so are the folders on its way.
    /// </param>
    public static string? Remove(string path, IReadOnlyCollection<string>? onlyTopLevel = null, IReadOnlySet<string>? written = null)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        int parentFd = NativeMethods.Open(Path.GetDirectoryName(full)!, NativeMethods.O_RDONLY | NativeMethods.O_DIRECTORY | NativeMethods.O_CLOEXEC, 0);
        if (parentFd < 0)
        {
            return Marshal.GetLastPInvokeError() == NativeMethods.ENOENT ? null : Marshal.GetLastPInvokeErrorMessage();
        }

        try
        {
            NativeMethods.Statx parent = NativeMethods.FStat(parentFd) ?? throw new IOException($"Cannot stat the folder of {full}");
            var kept = new List<string>();
            RemoveEntry(parentFd, parent, Encoding.UTF8.GetBytes(Path.GetFileName(full)), full, "", kept, onlyTopLevel, written);
            return kept.Count == 0 ? null : "it holds what this product did not write or another mount, which is never deleted: " + string.Join(", ", kept.Take(5)) + (kept.Count > 5 ? $" and {kept.Count - 5} more" : "");
        }
        finally
        {
            NativeMethods.Close(parentFd);
        }
    }

    private static unsafe bool RemoveEntry(int parentFd, NativeMethods.Statx parent, byte[] name, string display, string relative, List<string> kept, IReadOnlyCollection<string>? onlyTopLevel, IReadOnlySet<string>? written)
    {
        byte[] z = new byte[name.Length + 1];
        name.CopyTo(z, 0);
        int fd;
        fixed (byte* p = z)
        {
            fd = NativeMethods.OpenAt(parentFd, p, NativeMethods.O_RDONLY | NativeMethods.O_DIRECTORY | NativeMethods.O_NOFOLLOW | NativeMethods.O_NONBLOCK | NativeMethods.O_CLOEXEC, 0);
        }

        if (fd < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (error == NativeMethods.ENOENT)
            {
                return true;
            }

            if (error is not (NativeMethods.ENOTDIR or NativeMethods.ELOOP))
            {
                throw new IOException($"Cannot open {display}: {Marshal.GetPInvokeErrorMessage(error)}");
            }

            if (written is not null && relative.Length > 0 && !written.Contains(relative))
            {
                kept.Add(display);
                return false; // not written by the product: kept
            }

            Unlink(parentFd, z, 0, display); // a file, or a symlink: the link itself goes, never what it points at
            return true;
        }

        bool empty = true;
        try
        {
            NativeMethods.Statx self = NativeMethods.FStat(fd) ?? throw new IOException($"Cannot stat {display}");
            if (NativeMethods.IsMountPoint(self, parent))
            {
                kept.Add(display + " (a mount)");
                return false;
            }

            foreach (byte[] child in NativeMethods.RawNames(fd))
            {
                string childName = Encoding.UTF8.GetString(child);
                if (onlyTopLevel is not null && !onlyTopLevel.Contains(childName))
                {
                    kept.Add(display + "/" + childName);
                    empty = false;
                    continue;
                }

                empty &= RemoveEntry(fd, self, child, display + "/" + childName, relative.Length == 0 ? childName : relative + "/" + childName, kept, null, written);
            }
        }
        finally
        {
            NativeMethods.Close(fd);
        }

        if (empty)
        {
            Unlink(parentFd, z, NativeMethods.AT_REMOVEDIR, display);
        }

        return empty;
    }

    private static unsafe void Unlink(int parentFd, byte[] zname, int flags, string display)
    {
        fixed (byte* p = zname)
        {
            if (NativeMethods.UnlinkAt(parentFd, p, flags) != 0 && Marshal.GetLastPInvokeError() != NativeMethods.ENOENT)
            {
                throw new IOException($"Cannot remove {display}: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }
    }
}
