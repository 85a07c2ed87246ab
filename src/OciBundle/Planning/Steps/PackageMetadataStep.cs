using OciBundle.Model;

namespace OciBundle.Planning.Steps;

/// <summary>With <c>OciBundleSbom</c>: what scanners read (<see cref="PackageMetadata"/>: the release files and dpkg status.d), walked in turn.</summary>
internal sealed class PackageMetadataStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        if (context.Content.Sbom)
        {
            PackageMetadata.Add(context.ElfClosure, context.Plan, context.Packages.Value, e => context.OriginOf(e) == FileOrigin.Sysroot, context.Log);
            context.ElfClosure.Complete();
        }
    }
}
