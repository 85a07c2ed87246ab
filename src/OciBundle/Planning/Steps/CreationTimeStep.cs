using OciBundle.Request;

namespace OciBundle.Planning.Steps;

/// <summary>
/// The image's and the SBOM's <c>created</c>: the time of the commit the project was built from, else
/// <c>SOURCE_DATE_EPOCH</c> (1980-01-01 by default).
/// </summary>
internal sealed class CreationTimeStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        ContentSpec content = context.Content;
        OutputSpec output = context.Output;
        context.Created = output.Commit is { } commit ? CommitTime.Read(content.ProjectDirectory ?? content.PublishDirectory, commit, context.Log) ?? output.Epoch : output.Epoch;
    }
}
