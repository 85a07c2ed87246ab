using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using OciBundle.Interop;

namespace OciBundle.Storage;

/// <summary>
/// The one lock of the product's writers across processes: an output folder's (<c>.name.lock</c> beside it), the
/// project state's, and a sysroot cache entry's. An exclusive <c>flock</c> on a lock file, released by the kernel if
/// the process dies. The file is opened without following a symlink and must be a plain file of the user building, so a
/// planted link never makes a build (a root one above all) create or lock a file elsewhere; and once held, the path must
/// still name the file held: clean unlinks a lock file it holds, and a waiter that then got the lock would hold a file
/// no longer there while a newcomer makes and locks a new one.
/// </summary>
internal static class FileLock
{
    /// <summary>
    /// Holds the lock file at <paramref name="path"/> (created 0644 if missing), waiting up to <paramref name="timeout"/>;
    /// null when another holds it that long. A <see cref="LockFileException"/> when the file cannot be opened or locked,
    /// or is not a plain file of the user building.
    /// </summary>
    public static SafeFileHandle? Acquire(string path, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            SafeFileHandle? handle = AcquireOnce(path, timeout - clock.Elapsed);
            if (handle is null || (NativeMethods.FStat((int)handle.DangerousGetHandle()) is { } held && NativeMethods.LStat(path) is { } now
                && held.Inode == now.Inode && held.DevMajor == now.DevMajor && held.DevMinor == now.DevMinor))
            {
                return handle;
            }

            handle.Dispose(); // the file held was unlinked or replaced meanwhile: take the one that is there now
        }
    }

    private static SafeFileHandle? AcquireOnce(string path, TimeSpan timeout)
    {
        int fd = NativeMethods.Open(path, NativeMethods.O_RDWR | NativeMethods.O_CREAT | NativeMethods.O_NOFOLLOW | NativeMethods.O_NONBLOCK | NativeMethods.O_CLOEXEC, 0b110_100_100);
        if (fd < 0)
        {
            throw new LockFileException($"the lock file {path} cannot be opened (is it a symlink?): {Marshal.GetLastPInvokeErrorMessage()}");
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (NativeMethods.FStat(fd) is not { } st || (st.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG || st.Uid != NativeMethods.getuid())
        {
            handle.Dispose();
            throw new LockFileException($"the lock file {path} is not a plain file of the user running the build; remove it");
        }

        var clock = Stopwatch.StartNew();
        while (NativeMethods.Flock(fd, NativeMethods.LOCK_EX | NativeMethods.LOCK_NB) != 0)
        {
            if (Marshal.GetLastPInvokeError() != NativeMethods.EWOULDBLOCK)
            {
                string error = Marshal.GetLastPInvokeErrorMessage();
                handle.Dispose();
                throw new LockFileException($"the lock file {path} cannot be locked: {error}");
            }

            if (clock.Elapsed >= timeout)
            {
                handle.Dispose();
                return null;
            }

            Thread.Sleep(100);
        }

        return handle;
    }
}

/// <summary>A lock file that cannot be used; the message names it and why (each caller gives it its code).</summary>
internal sealed class LockFileException : IOException
{
    public LockFileException(string message)
        : base(message)
    {
    }
}
