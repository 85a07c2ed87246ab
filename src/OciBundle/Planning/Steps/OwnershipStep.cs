using OciBundle.Rootfs;

namespace OciBundle.Planning.Steps;

/// <summary>The ownership invariant, on the whole plan: nothing under a folder a non-root user of the build machine could change.</summary>
internal sealed class OwnershipStep : IPlanStep
{
    public void Run(PlanContext context) => ReplaceableFolders.Check(context.Plan);
}
