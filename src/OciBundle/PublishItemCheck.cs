using OciBundle.Diagnostics;
using OciBundle.Rootfs;

namespace OciBundle;

/// <summary>
/// Publish copies its items' contents, following symlinks: a link in the project to <c>/etc/shadow</c> would arrive
/// in <c>/app</c> as a plain file, indistinguishable from the app's own. So, before the copy, every item whose
/// source is inside the project folder must really be there, links resolved.
/// </summary>
public static class PublishItemCheck
{
    /// <summary>The errors for items that lead out of <paramref name="projectDirectory"/> through a symlink (of the file or of a folder on its way).</summary>
    public static IReadOnlyList<OciBundleException> Check(string projectDirectory, IEnumerable<string> itemPaths)
    {
        var errors = new List<OciBundleException>();
        string project = Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDirectory));
        string? realProject = NativeMethods.RealPath(project);
        if (realProject is null)
        {
            return errors;
        }

        foreach (string item in itemPaths.Distinct(StringComparer.Ordinal))
        {
            string full = Path.GetFullPath(item, project);
            if (!Output.OutputFolder.IsSameOrInside(full, project))
            {
                continue; // packages, runtime packs, other projects' outputs: not the project's own files
            }

            if (NativeMethods.RealPath(full) is { } real && !Output.OutputFolder.IsSameOrInside(real, realProject))
            {
                errors.Add(new OciBundleException(Strings.PublishItemOutsideProject, full, real));
            }
        }

        return errors;
    }
}
