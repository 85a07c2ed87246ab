using OciBundle.Model;

namespace OciBundle.Planning.Steps;

/// <summary>
/// Every file planned so far (the app, the frameworks, the user's files) is a root of the ELF walk: read, and checked
/// to be for the bundle's machine. Before the args, whose programs join the same walk.
/// </summary>
internal sealed class ClosureRootsStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        foreach (RootfsEntry entry in context.Plan.Entries.Where(e => e.Kind == RootfsEntryKind.File && e.SourcePath is not null).ToList())
        {
            context.ElfClosure.AddPlannedFile(entry.Path, entry.SourcePath!);
        }
    }
}
