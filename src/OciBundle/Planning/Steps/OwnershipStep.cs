using OciBundle.Rootfs;

namespace OciBundle.Planning.Steps;

/// <summary>
/// The ownership invariant, on the whole plan: nothing under an <c>OciBundleVolume</c> (the app user's data, hidden by
/// the volume when the container runs), nor under a folder a non-root user of the build machine could change.
/// </summary>
internal sealed class OwnershipStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        ReplaceableFolders.CheckVolumes(context.Plan, context.Volumes.Select(v => v.Path).ToList());
        ReplaceableFolders.Check(context.Plan);
    }
}
