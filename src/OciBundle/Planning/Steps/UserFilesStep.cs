using OciBundle.Request;
using OciBundle.Rootfs;

namespace OciBundle.Planning.Steps;

/// <summary>The user's <c>OciBundleFile</c> items, each at its target path (claimed, as the app's folder is).</summary>
internal sealed class UserFilesStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        foreach (FileSpec file in context.Content.Files)
        {
            context.ElfClosure.Resolver.Claim(file.TargetPath);
            HostTree.Add(context.Plan, file.Source, file.TargetPath, $"OciBundleFile {context.Paths.Of(file.Source)}", context.Inputs, file.Mode);
        }
    }
}
