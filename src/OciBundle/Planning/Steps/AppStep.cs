using OciBundle.Rootfs;

namespace OciBundle.Planning.Steps;

/// <summary>The publish output, under the working directory (claimed: the loader finds nothing of the sysroot there).</summary>
internal sealed class AppStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        string appDir = context.Process.WorkingDirectory;
        context.ElfClosure.Resolver.Claim(appDir);
        HostTree.Add(context.Plan, context.Content.PublishDirectory, appDir, "publish output", context.Inputs);
    }
}
