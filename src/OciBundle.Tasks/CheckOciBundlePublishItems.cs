using Microsoft.Build.Framework;
using OciBundle.Diagnostics;
using OciBundle.Request;

namespace OciBundle.Tasks;

/// <summary>
/// Runs before publish copies its files: an item of the project that is a symlink leading out of the project
/// (to a host secret, say) is a coded error, since the copy would turn it into a plain file of the app.
/// </summary>
public sealed class CheckOciBundlePublishItems : Microsoft.Build.Utilities.Task
{
    [Required] public string ProjectDirectory { get; set; } = "";

    /// <summary>The package folder and the SDK's packs: files from there are the SDK's and NuGet's, wherever those folders are linked.</summary>
    public string? TrustedDirectories { get; set; }

    /// <summary><c>@(ResolvedFileToPublish)</c>.</summary>
    public ITaskItem[] Items { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        foreach (OciBundleException e in PublishItemCheck.Check(ProjectDirectory, Items.Select(i => i.GetMetadata("FullPath")), (TrustedDirectories ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            Log.LogError(null, e.Code, null, null, 0, 0, 0, 0, e.Message);
        }

        return !Log.HasLoggedErrors;
    }
}
