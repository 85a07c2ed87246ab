using Microsoft.Build.Framework;
using OciBundle.Diagnostics;
using OciBundle.Outputs;

namespace OciBundle.Tasks;

/// <summary><c>dotnet clean</c>: removes the bundle, the image layout and the archive, each only if OciBundle.Sdk wrote it.</summary>
public sealed class CleanOciOutputs : Microsoft.Build.Utilities.Task
{
    public string? BundleDirectory { get; set; }
    public string? ImageDirectory { get; set; }
    public string? ImageArchive { get; set; }
    public string? ProjectDirectory { get; set; }

    public override bool Execute()
    {
        foreach ((string? path, OutputKind? kind) in new (string?, OutputKind?)[] { (BundleDirectory, OutputKind.Bundle), (ImageDirectory, OutputKind.Image), (ImageArchive, null) })
        {
            if (string.IsNullOrWhiteSpace(path))
            {
                continue;
            }

            string full = Path.GetFullPath(path!, ProjectDirectory ?? Directory.GetCurrentDirectory());
            try
            {
                if (OutputFolder.RemoveIfOurs(full, kind) is { } removed)
                {
                    Log.LogMessage(MessageImportance.Normal, $"Removed {removed}");
                }
            }
            catch (OciBundleException e)
            {
                // Not the product's: kept, and said so (a misnamed OciBundleDir would otherwise look cleaned).
                Log.LogWarning(null, Strings.CleanKeptForeignOutput.Code, null, null, 0, 0, 0, 0, Strings.CleanKeptForeignOutput.Format(full, $"{e.Code}: {e.Message}"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.LogWarning(null, Strings.CleanFailed.Code, null, null, 0, 0, 0, 0, Strings.CleanFailed.Format(full, e.Message));
            }
        }

        return true;
    }
}
