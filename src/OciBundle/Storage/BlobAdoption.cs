using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using OciBundle.Interop;

namespace OciBundle.Storage;

/// <summary>
/// A blob of the last image layout taken into the new one by identity (<see cref="BlobStore.Adopt"/>): only the very
/// file that was written then, recorded in obj/. A forged record must never link a host file (a symlink to it, a hard
/// link of it) into the layout, where the writer would chmod it and the archive and the push would read it.
/// </summary>
internal static class BlobAdoption
{
    public static bool Adopt(string source, string target, long size, string identity)
    {
        // Only a regular file with no other name, in a store's own blobs/sha256 (no symlink on the way), of the size
        // recorded. (The digest recorded with it is trusted as obj/ is: it cannot be checked without reading it.)
        string sha256 = Path.GetDirectoryName(source)!;
        if (!IsRealDirectory(sha256) || !IsRealDirectory(Path.GetDirectoryName(sha256)!)
            || NativeMethods.LStat(source) is not { } s || (s.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG || s.Nlink != 1
            || (long)s.Size != size || NativeMethods.Identity(s) != identity)
        {
            return false; // changed, replaced or removed since: never trusted
        }

        if (File.Exists(target))
        {
            return true;
        }

        // A hard link: nothing read, nothing copied.
        if (NativeMethods.link(source, target) == 0)
        {
            // link(2) takes whatever the name is now: it must still be the file checked above.
            // (Its link count and ctime changed with the link: the device, inode and size say which file it is.)
            if (NativeMethods.LStat(target) is not { } linked || linked.Inode != s.Inode || linked.DevMajor != s.DevMajor || linked.DevMinor != s.DevMinor
                || linked.Size != s.Size || (linked.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG)
            {
                File.Delete(target);
                return false;
            }

            return true;
        }

        // Where the file system has no hard links (or refuses this one: protected_hardlinks), a copy; anything
        // else, or any doubt during the copy, and the blob is simply written again.
        int errno = Marshal.GetLastPInvokeError();
        return errno is NativeMethods.EXDEV or NativeMethods.EPERM or NativeMethods.EMLINK or NativeMethods.EOPNOTSUPP && Copy(source, target, s);
    }

    /// <summary>Copies the file if it is still the one <paramref name="checkedStat"/> describes (device, inode, size, times), opened without following a link.</summary>
    private static bool Copy(string source, string target, NativeMethods.Statx checkedStat)
    {
        string temp = target + ".copy-" + Guid.NewGuid().ToString("N");
        try
        {
            int fd = NativeMethods.Open(source, NativeMethods.O_RDONLY | NativeMethods.O_NOFOLLOW | NativeMethods.O_NONBLOCK | NativeMethods.O_CLOEXEC, 0);
            if (fd < 0)
            {
                return false;
            }

            using var input = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, 1 << 16);
            if (NativeMethods.FStat(fd) is not { } opened || NativeMethods.Identity(opened) != NativeMethods.Identity(checkedStat))
            {
                return false;
            }

            using (var copy = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                input.CopyTo(copy);
            }

            File.Move(temp, target, overwrite: true);
            return true;
        }
        catch (IOException)
        {
            File.Delete(temp);
            return false;
        }
    }

    private static bool IsRealDirectory(string path) =>
        NativeMethods.LStat(path) is { } d && (d.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR;
}
