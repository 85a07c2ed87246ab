using System.Text;
using OciBundle.Diagnostics;
using OciBundle.Request;
using OciBundle.Rootfs;

namespace OciBundle.Planning.Steps;

/// <summary>
/// What would stop the container from starting, found now: args and environment within <c>execve</c>'s limit, the
/// program as runc starts it (<see cref="EntryPointCheck"/>), and capability sets the kernel would refuse.
/// </summary>
internal sealed class ChecksStep : IPlanStep
{
    /// <summary>ARG_MAX where the stack limit is the default 8 MiB: what execve takes of args and environment together.</summary>
    private const long MaxArgAndEnvironmentBytes = 2 * 1024 * 1024;

    /// <summary>
    /// What execve takes of args and environment under a stack limit (fs/exec.c, bprm_stack_limits): a quarter of the
    /// soft limit, at most three quarters of the default 8 MiB stack (6 MiB), and never less than 128 KiB (ARG_MAX).
    /// </summary>
    public static long ArgMaxUnder(ulong stackSoft) =>
        Math.Max(128 * 1024, (long)Math.Min(stackSoft / 4, 6UL * 1024 * 1024));

    public void Run(PlanContext context)
    {
        // execve's limit on all strings together (ARG_MAX: a quarter of the default 8 MiB stack), pointers included.
        long total = context.Args.Concat(context.Environment.Select(e => $"{e.Key}={e.Value}")).Sum(a => (long)Encoding.UTF8.GetByteCount(a) + 1 + IntPtr.Size) + 2 * IntPtr.Size;
        if (context.Process.Rlimits.LastOrDefault(r => r.Type == "RLIMIT_STACK") is { } stack)
        {
            // execve measures against the stack limit the process execs with, the one runc has just set.
            long limit = ArgMaxUnder(stack.Soft);
            if (total > limit)
            {
                throw new OciBundleException(Strings.ArgsAndEnvironmentOverStackLimit, total, limit, RlimitBounds.Show(stack.Soft));
            }
        }
        else if (total > MaxArgAndEnvironmentBytes)
        {
            throw new OciBundleException(Strings.ArgsAndEnvironmentTooLong, total, MaxArgAndEnvironmentBytes);
        }

        EntryPointCheck.Check(context.Plan, context.Args, context.Environment, context.Process, context.Shadow);
        MountTargets.Check(context);
        if (context.Process.Capabilities.Violation() is { } violation)
        {
            throw new OciBundleException(Strings.ContradictoryCapabilities, violation);
        }
    }
}
