using System.Runtime.InteropServices;

namespace OciBundle.Interop;

/// <summary>
/// The few libc calls .NET has no API for: the type of a file without following links (statx), timestamps of
/// symlinks themselves (utimensat with AT_SYMLINK_NOFOLLOW), owners (lchown), the atomic exchange of two paths
/// (renameat2 RENAME_EXCHANGE) and the caller's ids. statx and utimensat take structures whose layout is the
/// same on every Linux architecture, unlike struct stat.
/// </summary>
internal static partial class NativeMethods
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const uint RENAME_EXCHANGE = 1 << 1;
    public const uint STATX_TYPE = 0x1, STATX_MODE = 0x2, STATX_NLINK = 0x4, STATX_UID = 0x8, STATX_GID = 0x10, STATX_MTIME = 0x40, STATX_CTIME = 0x80, STATX_INO = 0x100, STATX_SIZE = 0x200, STATX_MNT_ID = 0x1000;

    public const uint S_IFMT = 0xF000, S_IFREG = 0x8000, S_IFDIR = 0x4000, S_IFLNK = 0xA000;

    [LibraryImport("libc", SetLastError = true)]
    public static partial uint getuid();

    [LibraryImport("libc", SetLastError = true)]
    public static partial uint getgid();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int lchown(string path, uint owner, uint group);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int link(string oldpath, string newpath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int utimensat(int dirfd, string path, Timespec* times, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int statx(int dirfd, string path, int flags, uint mask, Statx* buffer);

    public const int O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0x40, O_EXCL = 0x80, O_CLOEXEC = 0x80000;
    public const int EPERM = 1, EINTR = 4, EXDEV = 18, EINVAL = 22, EMLINK = 31, ENOSYS = 38, EOPNOTSUPP = 95;
    public const ulong FICLONE = 0x40049409;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    public static partial nint CopyFileRange(int fdIn, nint offIn, int fdOut, nint offOut, nuint length, uint flags);

    [LibraryImport("libc", EntryPoint = "sendfile", SetLastError = true)]
    public static partial nint SendFile(int outFd, int inFd, nint offset, nuint count);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, int argument);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int FChmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "futimens", SetLastError = true)]
    public static unsafe partial int FUtimens(int fd, Timespec* times);

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>struct statx (linux/stat.h): 256 bytes, fixed layout on every architecture.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(16)] public uint Nlink;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(96)] public long CTimeSeconds;
        [FieldOffset(104)] public uint CTimeNanoseconds;
        [FieldOffset(112)] public long MTimeSeconds;
        [FieldOffset(120)] public uint MTimeNanoseconds;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;

        /// <summary>The mount the path is on (STATX_MNT_ID, Linux 5.8+; check <see cref="Mask"/>): a bind mount of the same file system has its own.</summary>
        [FieldOffset(144)] public ulong MountId;
    }

    /// <summary>lstat-like facts of a path; null when it does not exist.</summary>
    public static unsafe Statx? LStat(string path)
    {
        Statx buffer;
        int rc = statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_UID | STATX_GID | STATX_INO | STATX_SIZE | STATX_MTIME | STATX_CTIME | STATX_MNT_ID, &buffer);
        return rc == 0 ? buffer : null;
    }

    /// <summary>
    /// What a path is, as one string: type, mode, owner, size, inode, device, mtime and ctime to the nanosecond (and a
    /// link's own inode). Any write, chmod, chown, rename over or link of the file changes it (ctime), even when the
    /// writer resets the mtime; "missing" when it does not exist.
    /// </summary>
    public static string Identity(string path)
    {
        if (LStat(path) is not { } s)
        {
            return "missing";
        }

        return Identity(s); // a symlink cannot change in place: a new target is a new inode (and ctime)
    }

    /// <summary>The identity of what <paramref name="s"/> describes (see <see cref="Identity(string)"/>).</summary>
    public static string Identity(Statx s) =>
        $"{s.Mode:x} {s.Uid}:{s.Gid} {s.Size} {s.DevMajor}:{s.DevMinor}:{s.Inode} {s.MTimeSeconds}.{s.MTimeNanoseconds} {s.CTimeSeconds}.{s.CTimeNanoseconds}";

    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealPathNative(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);

    /// <summary>The path with every symlink resolved (realpath(3)); null when it does not exist.</summary>
    public static string? RealPath(string path)
    {
        nint resolved = RealPathNative(path, 0);
        if (resolved == 0)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }

    [LibraryImport("libc", EntryPoint = "readdir64", SetLastError = true)]
    private static partial nint ReadDir(nint dir);

    [LibraryImport("libc", EntryPoint = "closedir")]
    private static partial int CloseDir(nint dir);

    /// <summary>
    /// The names in a folder as the bytes the file system holds (readdir64), for the one thing .NET cannot do: tell
    /// which names are not UTF-8 (its enumeration replaces such bytes with U+FFFD, and the name then opens nothing).
    /// </summary>
    public static List<byte[]> RawNames(string dir)
    {
        int fd = Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            return new List<byte[]>();
        }

        try
        {
            return RawNames(fd);
        }
        catch (IOException)
        {
            return new List<byte[]>();
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>True when <paramref name="child"/> (a folder inside <paramref name="parent"/>) is a mount point: another mount, or another device.</summary>
    public static bool IsMountPoint(Statx child, Statx parent) =>
        (child.Mask & STATX_MNT_ID) != 0 && (parent.Mask & STATX_MNT_ID) != 0
            ? child.MountId != parent.MountId
            : child.DevMajor != parent.DevMajor || child.DevMinor != parent.DevMinor;

    private static bool ArmLike => System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture is Architecture.Arm or Architecture.Arm64 or Architecture.Armv6 or Architecture.Ppc64le;

    /// <summary>O_DIRECTORY: 0200000 in the generic ABI, 040000 on ARM and PowerPC.</summary>
    public static int O_DIRECTORY => ArmLike ? 0x4000 : 0x10000;

    /// <summary>O_NOFOLLOW: 0400000 in the generic ABI, 0100000 on ARM and PowerPC.</summary>
    public static int O_NOFOLLOW => ArmLike ? 0x8000 : 0x20000;

    public const int O_RDWR = 2, O_NONBLOCK = 0x800, AT_REMOVEDIR = 0x200, AT_EMPTY_PATH = 0x1000, LOCK_EX = 2, LOCK_NB = 4;
    public const int ENOTDIR = 20, ELOOP = 40, EWOULDBLOCK = 11;

    public const int ENOENT = 2;

    /// <summary>openat with the name as the file system's bytes (NUL-terminated): a name that is not UTF-8 still opens.</summary>
    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    public static unsafe partial int OpenAt(int dirfd, byte* path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    public static unsafe partial int UnlinkAt(int dirfd, byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "fdopendir", SetLastError = true)]
    private static partial nint FdOpenDir(int fd);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    /// <summary>statx of an open descriptor (AT_EMPTY_PATH): the facts of what was opened, not of a path that may have changed since.</summary>
    public static unsafe Statx? FStat(int fd)
    {
        Statx buffer;
        int rc = statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_INO | STATX_SIZE | STATX_MNT_ID, &buffer);
        return rc == 0 ? buffer : null;
    }

    /// <summary>The names in an open folder (readdir64 on a duplicate of the descriptor), without following any path again.</summary>
    public static unsafe List<byte[]> RawNames(int dirFd)
    {
        var names = new List<byte[]>();
        int copy = Dup(dirFd);
        nint handle = copy < 0 ? 0 : FdOpenDir(copy);
        if (handle == 0)
        {
            if (copy >= 0)
            {
                Close(copy);
            }

            throw new IOException($"Cannot list a folder: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        try
        {
            for (nint entry = ReadDir(handle); entry != 0; entry = ReadDir(handle))
            {
                ReadOnlySpan<byte> bytes = MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)entry + 19);
                if (!(bytes.Length == 1 && bytes[0] == (byte)'.') && !(bytes.Length == 2 && bytes[0] == (byte)'.' && bytes[1] == (byte)'.'))
                {
                    names.Add(bytes.ToArray());
                }
            }
        }
        finally
        {
            CloseDir(handle); // closes the duplicate
        }

        return names;
    }

    /// <summary>Sets both timestamps of a path (not following a final symlink).</summary>
    public static unsafe void SetTimes(string path, long seconds)
    {
        Timespec* times = stackalloc Timespec[2];
        times[0] = new Timespec { Seconds = seconds };
        times[1] = new Timespec { Seconds = seconds };
        if (utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) != 0)
        {
            throw new IOException($"Cannot set the timestamps of {path}: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }
}
