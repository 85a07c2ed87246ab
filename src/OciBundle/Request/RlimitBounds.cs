using System.Globalization;

namespace OciBundle.Request;

/// <summary>
/// The resource limits a container can start with: what the kernel lets runc set, and the least that runc itself (its
/// init, with the seccomp filter loaded after the limits are set) and the .NET runtime need to start. Every value was
/// tried with runc 1.1 and the probe app of the end-to-end tests (tests/OciBundle.EndToEnd.Tests/Limits.tsv).
/// </summary>
internal static class RlimitBounds
{
    /// <summary>The kernel's default <c>fs.nr_open</c> (1024 * 1024): the most open files a process may be allowed.</summary>
    public const ulong KernelNrOpen = 1048576;

    private const ulong MiB = 1024 * 1024;

    /// <summary>
    /// The highest <c>RLIMIT_NOFILE</c> checked for: the kernel's default <c>fs.nr_open</c>, or the build machine's when
    /// it was raised (systemd raises it at boot): setrlimit refuses more with EPERM, even to root, and runc fails.
    /// A machine that runs the bundle with a lower <c>fs.nr_open</c> than the build machine's refuses it too.
    /// </summary>
    public static ulong NrOpen { get; } = ReadNrOpen();

    private static ulong ReadNrOpen()
    {
        try
        {
            return ulong.TryParse(File.ReadAllText("/proc/sys/fs/nr_open").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong value) && value > KernelNrOpen
                ? value
                : KernelNrOpen;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return KernelNrOpen;
        }
    }

    /// <summary>Where the ceiling of <see cref="NrOpen"/> comes from, for the message.</summary>
    public static string NrOpenSource => NrOpen == KernelNrOpen ? "the kernel's default fs.nr_open" : "fs.nr_open of the build machine";

    /// <summary>
    /// The least soft value of a limit the container starts with, and why; null for a limit with no such floor (a
    /// limit of 0 on core files, locks, message queues, nice, real-time priority or time, pending signals, locked
    /// memory or resident set size starts the app all the same).
    /// </summary>
    public static (ulong Floor, string Why)? FloorOf(string type) => type switch
    {
        "RLIMIT_NOFILE" => (64, "the open files runc needs to load the seccomp filter (about 16) and the .NET runtime to start (about 48)"),
        "RLIMIT_CPU" => (1, "the CPU seconds below which the kernel kills the container's first process before runc starts it"),
        "RLIMIT_DATA" => (256 * MiB, "the data segment below which runc cannot load the seccomp filter (64 MiB fails) and the .NET runtime cannot start"),
        "RLIMIT_AS" => (2048 * MiB, "the address space below which the .NET runtime cannot reserve its heap (1 GiB fails)"),
        "RLIMIT_STACK" => (256 * 1024, "the stack below which the .NET runtime overflows it at start (32 KiB fails)"),
        "RLIMIT_FSIZE" => (64 * MiB, "the file size below which the .NET runtime cannot map its executable memory (1 MiB fails)"),
        "RLIMIT_NPROC" => (64, "the processes and threads of the user (counted across the whole host) below which the .NET runtime cannot start its threads (6 fails)"),
        _ => null,
    };

    /// <summary>A value as the message shows it.</summary>
    public static string Show(ulong value) => value == RlimitSpec.Unlimited ? "unlimited" : value.ToString(CultureInfo.InvariantCulture);
}
