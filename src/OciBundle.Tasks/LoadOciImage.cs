using System.Globalization;
using Microsoft.Build.Framework;
using OciBundle.Diagnostics;
using OciBundle.Engines;

namespace OciBundle.Tasks;

/// <summary>
/// <c>OciImageLoad</c>: first (<see cref="CheckOnly"/>, before anything is written) that the engine can take the
/// image; then, after the layout is written, loads it into the engine's local store. A thin adapter over
/// <see cref="ImageLoader"/>: coded exceptions become logged errors, never a stack trace.
/// </summary>
public sealed class LoadOciImage : Microsoft.Build.Utilities.Task, ICancelableTask
{
    private readonly CancellationTokenSource _cancel = new();

    /// <summary><c>OciImageLoad</c>: <c>podman</c> or <c>docker</c>.</summary>
    [Required] public string Engine { get; set; } = "";

    /// <summary>The image layout the publish writes (<c>OciImageDir</c>).</summary>
    [Required] public string ImageDirectory { get; set; } = "";

    /// <summary><c>OciImageRuntimeIdentifiers</c>: an engine's store takes one architecture's image.</summary>
    public string? ImageRuntimeIdentifiers { get; set; }

    /// <summary>Check the value and the engine only, before the image is written.</summary>
    public bool CheckOnly { get; set; }

    public string AppName { get; set; } = "";

    /// <summary>The name the engine's store has the image under (<c>localhost/&lt;repository&gt;:&lt;tag&gt;</c>).</summary>
    [Output] public string? ImageReference { get; set; }

    public void Cancel() => _cancel.Cancel();

    public override bool Execute()
    {
        try
        {
            string program = ImageLoader.Check(Engine.Trim(), ImageRuntimeIdentifiers, Environment.GetEnvironmentVariable("PATH"), ImageDirectory);
            if (CheckOnly)
            {
                return true;
            }

            LoadedImage loaded;
            using (var progress = new StepProgress(Log, $"{AppName}: {Engine.Trim()} load"))
            {
                loaded = ImageLoader.Load(Engine.Trim(), program, ImageDirectory, progress.Detail, _cancel.Token);
            }

            ImageReference = loaded.Reference;
            string seconds = loaded.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture);
            Log.LogMessage(MessageImportance.High, $"{AppName} -> {loaded.Engine} {loaded.Reference} ({(loaded.AlreadyThere ? "already in" : "loaded into")} {loaded.Engine}'s local store, {seconds} s); run it with: {loaded.Engine} run --rm {loaded.Reference}");
        }
        catch (OciBundleException e)
        {
            Log.LogError(null, e.Code, null, BuildEngine?.ProjectFileOfTaskNode, 0, 0, 0, 0, e.Message);
        }
        catch (OperationCanceledException)
        {
            Log.LogMessage(MessageImportance.High, $"{AppName}: loading the image into {Engine} was canceled; the image layout is written.");
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or Newtonsoft.Json.JsonException or System.ComponentModel.Win32Exception)
        {
            Log.LogError(null, Strings.ImageLoadFailed.Code, null, BuildEngine?.ProjectFileOfTaskNode, 0, 0, 0, 0, Strings.ImageLoadFailed.Format(Engine, ImageDirectory, "-", $"{e.GetType().Name}: {e.Message}"));
            Log.LogMessage(MessageImportance.Low, e.ToString());
        }

        return !Log.HasLoggedErrors;
    }
}
