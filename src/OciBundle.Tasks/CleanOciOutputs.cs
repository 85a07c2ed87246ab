using Microsoft.Build.Framework;
using OciBundle.Output;

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
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.LogWarning($"Cannot remove {full}: {e.Message}");
            }
        }

        return true;
    }
}
