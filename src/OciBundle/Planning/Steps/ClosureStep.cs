namespace OciBundle.Planning.Steps;

/// <summary>
/// The ELF walk of everything queued so far (the planned files and the programs the args name): every interpreter and
/// <c>DT_NEEDED</c> library, transitively, from the sysroot; one error listing every library not found.
/// </summary>
internal sealed class ClosureStep : IPlanStep
{
    public void Run(PlanContext context) => context.ElfClosure.Complete();
}
