using System.Globalization;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using OciBundle.Diagnostics;
using OciBundle.Registries;
using OciBundle.Request;

namespace OciBundle.Tasks;

/// <summary>
/// Pushes the image layout the publish wrote to <c>OciImageRegistry</c>. A thin adapter: properties into
/// <see cref="PushOptions"/>, <see cref="ImagePusher"/> does the work, coded exceptions become logged errors.
/// Credentials come from the environment and docker's files inside the engine: never a task parameter, so never
/// in a log or a binary log.
/// </summary>
public sealed class PushOciImage : Microsoft.Build.Utilities.Task, ICancelableTask
{
    private readonly CancellationTokenSource _cancel = new();

    [Required] public string ImageDirectory { get; set; } = "";
    [Required] public string Registry { get; set; } = "";
    public string? Repository { get; set; }

    /// <summary><c>OciImageTags</c>: ';'- or ','-separated (<see cref="OptionList"/>).</summary>
    public string? Tags { get; set; }

    /// <summary><c>OciImageInsecureRegistries</c>: ';'- or ','-separated host[:port].</summary>
    public string? InsecureRegistries { get; set; }

    /// <summary>Where this project's pushes are remembered (obj/), for cross-repository mounts.</summary>
    public string? RecordFile { get; set; }

    public string AppName { get; set; } = "";

    /// <summary>The manifest digest the registry now holds under the tags.</summary>
    [Output] public string? ManifestDigest { get; set; }

    public void Cancel() => _cancel.Cancel();

    public override bool Execute()
    {
        try
        {
            PushSpec spec = PushSpec.Parse(ToOptions(), Environment.GetEnvironmentVariable);
            PushResult result;
            using (var progress = new StepProgress(Log, $"{AppName}: push"))
            {
                result = ImagePusher.Push(
                    spec,
                    Environment.GetEnvironmentVariable,
                    progress.Detail,
                    message => Log.LogMessage(MessageImportance.Normal, message),
                    _cancel.Token);
            }

            ManifestDigest = result.ManifestDigest;
            string seconds = result.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture);
            string what = result.UpToDate
                ? $"up to date: {result.Requests} requests, nothing uploaded"
                : $"{result.BlobsUploaded} of {result.BlobsUploaded + result.BlobsPresent + result.BlobsMounted} blobs uploaded ({(result.BytesUploaded / 1048576.0).ToString("F1", CultureInfo.InvariantCulture)} MB)"
                  + (result.BlobsMounted > 0 ? $", {result.BlobsMounted} mounted from another repository" : "") + $", {result.Requests} requests";
            Log.LogMessage(MessageImportance.High, $"{AppName} -> {result.Reference} (manifest {result.ManifestDigest}; {what}, {seconds} s)");
        }
        catch (BundleValidationException e)
        {
            foreach (OciBundleException error in e.Errors)
            {
                LogError(error);
            }
        }
        catch (OciBundleException e)
        {
            LogError(e);
        }
        catch (OperationCanceledException)
        {
            Log.LogMessage(MessageImportance.High, $"{AppName}: the push was canceled; tags the registry had are unchanged (the manifest goes last).");
            return false;
        }
        catch (Exception e)
        {
            LogError(new OciBundleException(Strings.PushUnexpectedError, e, $"{e.GetType().Name}: {e.Message}"));
            Log.LogMessage(MessageImportance.Low, e.ToString());
        }

        return !Log.HasLoggedErrors;
    }

    /// <summary>The parameters as plain values (lists split by <see cref="OptionList"/>'s one rule), no defaults and no checks.</summary>
    internal PushOptions ToOptions() => new()
    {
        ImageDirectory = ImageDirectory,
        Registry = Registry,
        Repository = Repository,
        Tags = OptionList.Split(Tags),
        InsecureRegistries = OptionList.Split(InsecureRegistries),
        RecordFile = RecordFile,
    };

    private void LogError(OciBundleException e) => Log.LogError(null, e.Code, null, BuildEngine?.ProjectFileOfTaskNode, 0, 0, 0, 0, e.Message);
}
