using OciBundle.Request;
using OciBundle.RuntimeSpec;

namespace OciBundle.Planning.Steps;

/// <summary>config.json (only when a bundle is written), from the request's typed values, the args and environment, and the seccomp filter resolved for the target and the capabilities in effect.</summary>
internal sealed class RuntimeSpecStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        if (context.Output.BundleDirectory is null)
        {
            // An image carries no config.json (an engine makes its own from the image's config): not made, 8-13 ms and
            // the JSON library's first use spared on an image's publish. The seccomp profile was checked as parsed.
            context.Config = Array.Empty<byte>();
            return;
        }

        IsolationSpec isolation = context.Isolation;
        ProcessSpec process = context.Process;
        context.Config = RuntimeSpecBuilder.Write(new RuntimeSpecBuilder.Input
        {
            SpecVersion = isolation.SpecVersion,
            Args = context.Args,
            Environment = context.Environment,
            Cwd = process.WorkingDirectory,
            Uid = process.User.Uid,
            Gid = process.User.Gid,
            Hostname = isolation.Hostname,
            ReadOnly = isolation.ReadOnly,
            Rootless = isolation.Rootless,
            HostNetwork = isolation.HostNetwork,
            Mounts = isolation.Mounts.Concat(context.Volumes.Select(v => v.Mount).OfType<MountSpec>()).ToList(),
            Capabilities = process.Capabilities,
            NoNewPrivileges = process.NoNewPrivileges,
            Rlimits = process.Rlimits,
            Seccomp = isolation.Seccomp.Resolve(context.Content.Arch.GoArch, process.Capabilities.Bounding),
            MaskedPaths = isolation.MaskedPaths,
            ReadonlyPaths = isolation.ReadonlyPaths,
        });
    }
}
