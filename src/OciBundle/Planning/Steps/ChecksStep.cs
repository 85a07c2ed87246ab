using System.Text;
using OciBundle.Diagnostics;
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

    public void Run(PlanContext context)
    {
        // execve's limit on all strings together (ARG_MAX: a quarter of the default 8 MiB stack), pointers included.
        long total = context.Args.Concat(context.Environment.Select(e => $"{e.Key}={e.Value}")).Sum(a => (long)Encoding.UTF8.GetByteCount(a) + 1 + IntPtr.Size) + 2 * IntPtr.Size;
        if (total > MaxArgAndEnvironmentBytes)
        {
            throw new OciBundleException(Strings.ArgsAndEnvironmentTooLong, total, MaxArgAndEnvironmentBytes);
        }

        EntryPointCheck.Check(context.Plan, context.Args, context.Environment, context.Process, context.Shadow);
        if (context.Process.Capabilities.Violation() is { } violation)
        {
            throw new OciBundleException(Strings.ContradictoryCapabilities, violation);
        }
    }
}
