using OciBundle.Request;
using OciBundle.Sysroots;

namespace OciBundle.Planning.Steps;

/// <summary>
/// The sysroot as a folder: a plain folder as it is; an archive or image unpacked (or found in the cache) here, before
/// the closure, and so never on a publish the up-to-date check found up to date.
/// </summary>
internal sealed class SysrootStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        ContentSpec content = context.Content;
        MaterializedSysroot Open() => SysrootStore.Materialize(content.Sysroot, content.Arch, context.Inputs, context.Log, context.Cancel);

        // The base image as the sysroot: a platform it lacks is said as the base's (OCIB1650).
        MaterializedSysroot sysroot = content.SysrootIsBase ? BaseImage.OnPlatform(content.Base!.Path, content.Arch, Open) : Open();
        context.Materialized = sysroot;
        // Only a folder the user named (or /) follows the host-file rule: an unpacked archive is the product's own.
        context.Sysroot = new SysrootView(sysroot.Root) { Inputs = context.Inputs, PublicFilesOnly = sysroot.Form == "folder" };
    }
}
