namespace OciBundle.Planning.Steps;

/// <summary>The dpkg owners this plan asked the sysroot's database about, kept in the per-user cache for the next plan on this machine.</summary>
internal sealed class OwnerCacheStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        if (context.Packages.IsValueCreated)
        {
            context.Packages.Value?.Save();
        }
    }
}
