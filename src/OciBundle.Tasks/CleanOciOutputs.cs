using Microsoft.Build.Framework;
using OciBundle.Diagnostics;
using OciBundle.Outputs;

namespace OciBundle.Tasks;

/// <summary>
/// <c>dotnet clean</c>: removes the bundle, the image layout and the archive, each only if OciBundle.Sdk wrote it:
/// those the properties of this clean name, and those the publishes recorded in <see cref="Records"/> (whatever
/// properties they were given), so a clean needs neither the publish's switches nor its RuntimeIdentifier.
/// </summary>
public sealed class CleanOciOutputs : Microsoft.Build.Utilities.Task
{
    /// <summary>How a record names each kind of output, one <c>kind=path</c> a line (written by the targets after each publish).</summary>
    private static readonly Dictionary<string, OutputKind?> Kinds = new(StringComparer.Ordinal)
    {
        ["bundle"] = OutputKind.Bundle,
        ["image"] = OutputKind.Image,
        ["archive"] = null,
    };

    public string? BundleDirectory { get; set; }
    public string? ImageDirectory { get; set; }
    public string? ImageArchive { get; set; }
    public string? ProjectDirectory { get; set; }

    /// <summary>The <c>outputs.txt</c> files of obj/ (this RID's and every other's): what earlier publishes wrote.</summary>
    public ITaskItem[] Records { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        foreach ((string? path, OutputKind? kind) in new (string?, OutputKind?)[] { (BundleDirectory, OutputKind.Bundle), (ImageDirectory, OutputKind.Image), (ImageArchive, null) })
        {
            if (!string.IsNullOrWhiteSpace(path))
            {
                Remove(Path.GetFullPath(path!, ProjectDirectory ?? Directory.GetCurrentDirectory()), kind);
            }
        }

        foreach (string record in Records.Select(r => r.GetMetadata("FullPath")).Where(File.Exists).Distinct(StringComparer.Ordinal))
        {
            CleanRecorded(record);
        }

        return true;
    }

    /// <summary>
    /// Removes what one record lists, by the same rule as the rest; the record keeps only the outputs that could not
    /// be removed (a permission, an immutable file: the next clean tries again), and goes when none is left.
    /// </summary>
    private void CleanRecorded(string record)
    {
        var left = new List<string>();
        foreach (string line in File.ReadAllLines(record))
        {
            int equals = line.IndexOf('=');
            if (equals <= 0 || !Kinds.TryGetValue(line[..equals], out OutputKind? kind) || !Path.IsPathFullyQualified(line[(equals + 1)..]))
            {
                Log.LogMessage(MessageImportance.Low, $"{record}: '{line}' names no output; ignored");
                continue;
            }

            if (!Remove(line[(equals + 1)..], kind))
            {
                left.Add(line);
            }
        }

        if (left.Count == 0)
        {
            File.Delete(record);
        }
        else
        {
            File.WriteAllLines(record, left);
        }
    }

    /// <summary>Removes one output if it is the product's; false only when it is and could not be removed.</summary>
    private bool Remove(string full, OutputKind? kind)
    {
        try
        {
            if (OutputFolder.RemoveIfOurs(full, kind) is { } removed)
            {
                Log.LogMessage(MessageImportance.Normal, $"Removed {removed}");
            }

            return true;
        }
        catch (OciBundleException e)
        {
            // Not the product's: kept, and said so (a misnamed OciBundleDir would otherwise look cleaned).
            Log.LogWarning(null, Strings.CleanKeptForeignOutput.Code, null, null, 0, 0, 0, 0, Strings.CleanKeptForeignOutput.Format(full, $"{e.Code}: {e.Message}"));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.LogWarning(null, Strings.CleanFailed.Code, null, null, 0, 0, 0, 0, Strings.CleanFailed.Format(full, e.Message));
            return false;
        }
    }
}
