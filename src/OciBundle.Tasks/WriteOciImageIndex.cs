using System.Globalization;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using OciBundle.Diagnostics;
using OciBundle.Images;
using OciBundle.Request;

namespace OciBundle.Tasks;

/// <summary>
/// Joins the per-RID image layouts of <c>OciImageRuntimeIdentifiers</c> into one multi-architecture layout (an
/// image index with a platform per manifest). A thin adapter over <see cref="ImageIndexWriter"/>.
/// </summary>
public sealed class WriteOciImageIndex : Microsoft.Build.Utilities.Task
{
    /// <summary>The per-RID layouts, one item each.</summary>
    [Required] public ITaskItem[] Sources { get; set; } = Array.Empty<ITaskItem>();

    [Required] public string Directory { get; set; } = "";

    public string? ProjectDirectory { get; set; }

    public ITaskItem[] ProtectedDirectories { get; set; } = Array.Empty<ITaskItem>();

    public string? Tag { get; set; }
    public string? Registry { get; set; }
    public string? Repository { get; set; }
    public string AppName { get; set; } = "";

    public override bool Execute()
    {
        try
        {
            var errors = new ParseErrors();
            string tag = errors.Required(Tag, "OciImageTag");
            if (tag.Length > 0 && !ImageName.IsTag(tag))
            {
                errors.Add(Strings.InvalidImageTag, Tag);
            }

            string? registry = ImageName.ParseRegistry(Registry, errors);
            string? repository = ImageName.ParseRepository(Repository, errors);
            var protectedFolders = ProtectedDirectories.Select(d => d.ItemSpec).Where(d => d.Length > 0).ToList();
            if (!string.IsNullOrWhiteSpace(ProjectDirectory))
            {
                protectedFolders.Add(ProjectDirectory);
            }

            foreach (string twice in Sources.Select(s => s.GetMetadata("RuntimeIdentifier")).Where(r => r.Length > 0)
                .GroupBy(r => r, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key))
            {
                errors.Add(Strings.DuplicateRuntimeIdentifier, twice);
            }

            string? dir = OutputSpec.ParseFolder(Directory, "OciImageIndexDir", Outputs.OutputKind.Image, "", protectedFolders, errors);
            foreach (OciBundleException e in errors.All)
            {
                LogError(e);
            }

            if (errors.All.Count > 0)
            {
                return false;
            }

            string digest = ImageIndexWriter.Write(new ImageIndexRequest
            {
                Directory = dir!,
                Sources = Sources.Select(s => s.ItemSpec).ToList(),
                Tag = tag,
                Name = $"{registry ?? ImageName.LocalRegistry}/{repository}:{tag}",
            });
            Log.LogMessage(MessageImportance.High, $"{AppName} -> {dir}{Path.DirectorySeparatorChar} (OCI image index {tag}: {string.Join(", ", Sources.Select(s => s.GetMetadata("RuntimeIdentifier")))}, index {digest})");
        }
        catch (OciBundleException e)
        {
            LogError(e);
        }
        catch (Exception e)
        {
            LogError(new OciBundleException(Strings.UnexpectedError, e, $"{e.GetType().Name}: {e.Message}"));
            Log.LogMessage(MessageImportance.Low, e.ToString());
        }

        return !Log.HasLoggedErrors;
    }

    private void LogError(OciBundleException e) => Log.LogError(null, e.Code, null, BuildEngine?.ProjectFileOfTaskNode, 0, 0, 0, 0, e.Message);
}
