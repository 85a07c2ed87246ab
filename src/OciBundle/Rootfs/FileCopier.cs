using System.Runtime.InteropServices;
using OciBundle.Interop;

namespace OciBundle.Rootfs;

/// <summary>
/// Copies one file into the bundle with as few system calls as Linux allows: open both ends, a copy-on-write clone
/// (FICLONE) where the file system can (probed once, then not tried again where it cannot), else
/// <c>copy_file_range</c> (the kernel copies, nothing passes through this process), else <c>sendfile</c>; then the
/// planned mode and timestamp on the open descriptor.
/// </summary>
/// <remarks>
/// Written by hand because <see cref="File.Copy(string, string)"/> takes an advisory <c>flock</c> on both files,
/// tries FICLONE on every file, and leaves mode and time to two more calls by path: three times the system calls of
/// <c>cp -a</c>, which on a bundle of a thousand small files is most of the cost.
/// </remarks>
internal sealed class FileCopier
{
    private volatile bool _cloneUnsupported;

    public unsafe void Copy(string source, string target, UnixFileMode mode, long epoch, ulong expectedInode = 0, bool mustBePublic = false)
    {
        int src = OpenSource(source, expectedInode, mustBePublic);
        try
        {
            // Created owner-writable whatever the planned mode, so the copy can be written; fchmod sets the real mode.
            int dst = NativeMethods.Open(target, NativeMethods.O_WRONLY | NativeMethods.O_CREAT | NativeMethods.O_EXCL | NativeMethods.O_CLOEXEC, 0b110_000_000);
            if (dst < 0)
            {
                throw Error("create", target);
            }

            try
            {
                if (!TryClone(src, dst))
                {
                    CopyContents(src, dst, source, target);
                }

                if (NativeMethods.FChmod(dst, (uint)mode) != 0)
                {
                    throw Error("chmod", target);
                }

                NativeMethods.Timespec* times = stackalloc NativeMethods.Timespec[2];
                times[0] = new NativeMethods.Timespec { Seconds = epoch };
                times[1] = new NativeMethods.Timespec { Seconds = epoch };
                if (NativeMethods.FUtimens(dst, times) != 0)
                {
                    throw Error("set the timestamps of", target);
                }
            }
            finally
            {
                NativeMethods.Close(dst);
            }
        }
        finally
        {
            NativeMethods.Close(src);
        }
    }

    /// <summary>
    /// Opens a planned source without following a final symlink and without blocking on a fifo, and checks it is the
    /// regular file the plan saw (same inode): what was swapped since planning is refused, never copied. With
    /// <paramref name="mustBePublic"/> (a file of a sysroot folder), the inode opened must also still be readable by
    /// every user: a file made private since planning is refused too.
    /// </summary>
    public static int OpenSource(string source, ulong expectedInode, bool mustBePublic = false)
    {
        int fd = NativeMethods.Open(source, NativeMethods.O_RDONLY | NativeMethods.O_NOFOLLOW | NativeMethods.O_NONBLOCK | NativeMethods.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Error("open", source);
        }

        if (NativeMethods.FStat(fd) is not { } st || (st.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG || (expectedInode != 0 && st.Inode != expectedInode))
        {
            NativeMethods.Close(fd);
            throw new IOException($"{source} was replaced while the bundle was being written (it is no longer the file that was planned); publish again");
        }

        if (mustBePublic && !HostFileAccess.IsPublic(st.Mode))
        {
            NativeMethods.Close(fd);
            throw new IOException($"{source} is no longer readable by every user of the build machine (mode {Convert.ToString(st.Mode & 0xFFF, 8)}), so it is not copied from the sysroot folder");
        }

        return fd;
    }

    private bool TryClone(int src, int dst)
    {
        if (_cloneUnsupported)
        {
            return false;
        }

        if (NativeMethods.Ioctl(dst, NativeMethods.FICLONE, src) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno is NativeMethods.EOPNOTSUPP or NativeMethods.EINVAL or NativeMethods.EXDEV or 25 /* ENOTTY */)
        {
            _cloneUnsupported = true; // this file system (or pair of them) cannot clone: do not ask again
        }

        return false;
    }

    private static void CopyContents(int src, int dst, string source, string target)
    {
        const nuint Chunk = 1 << 30;
        bool useSendFile = false;
        while (true)
        {
            nint n = useSendFile ? NativeMethods.SendFile(dst, src, 0, Chunk) : NativeMethods.CopyFileRange(src, 0, dst, 0, Chunk, 0);
            if (n > 0)
            {
                continue;
            }

            if (n == 0)
            {
                return; // end of the source
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == NativeMethods.EINTR)
            {
                continue;
            }

            if (!useSendFile && errno is NativeMethods.EXDEV or NativeMethods.ENOSYS or NativeMethods.EINVAL or NativeMethods.EOPNOTSUPP)
            {
                useSendFile = true; // older kernels, or file systems copy_file_range does not serve
                continue;
            }

            throw new IOException($"Cannot copy {source} to {target}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    private static IOException Error(string what, string path)
    {
        int errno = Marshal.GetLastPInvokeError();
        string message = $"Cannot {what} {path}: {Marshal.GetPInvokeErrorMessage(errno)}";
        return errno == 2 ? new FileNotFoundException(message, path) : new IOException(message);
    }
}
