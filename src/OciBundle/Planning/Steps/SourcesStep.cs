using OciBundle.Model;

namespace OciBundle.Planning.Steps;

/// <summary>Every planned file's source, by identity, in the ledger: a change to any of them makes the next publish plan again.</summary>
internal sealed class SourcesStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        foreach (RootfsEntry file in context.Plan.Entries.Where(e => e.SourcePath is not null))
        {
            context.Inputs.Path(file.SourcePath!);
        }
    }
}
