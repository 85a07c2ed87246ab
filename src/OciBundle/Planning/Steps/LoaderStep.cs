using OciBundle.Closure;

namespace OciBundle.Planning.Steps;

/// <summary>
/// The sysroot's dynamic loader as the closure asks it (<c>ld.so.cache</c>, <c>ld.so.conf</c>), and the ELF closure
/// over the plan: the steps after this one add files to both.
/// </summary>
internal sealed class LoaderStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        var resolver = LibraryResolver.ForSysroot(context.Sysroot, context.Content.Arch, context.Plan);
        context.ElfClosure = new ClosureBuilder(context.Sysroot, context.Content.Arch, context.Plan, resolver, context.Log);
    }
}
