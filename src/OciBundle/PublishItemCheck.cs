using OciBundle.Diagnostics;
using OciBundle.Rootfs;
using OciBundle.Interop;

namespace OciBundle;

/// <summary>
/// Publish copies its items' contents, following symlinks: a link in the project to <c>/etc/shadow</c> would arrive
/// in <c>/app</c> as a plain file, indistinguishable from the app's own. So, before the copy, every item whose
/// source is inside the project folder must really be there, links resolved.
/// </summary>
internal static class PublishItemCheck
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
            if (Output.OutputFolder.IsSameOrInside(full, project))
            {
                // The project's own files: wherever their links lead, it must be inside the project.
                if (NativeMethods.RealPath(full) is { } real && !Output.OutputFolder.IsSameOrInside(real, realProject))
                {
                    errors.Add(new OciBundleException(Strings.PublishItemOutsideProject, full, real, "the project folder"));
                }
            }
            else if (NativeMethods.LStat(full) is { } st && (st.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFLNK
                && NativeMethods.RealPath(full) is { } target && !Output.OutputFolder.IsSameOrInside(target, NativeMethods.RealPath(Path.GetDirectoryName(full)!) ?? ""))
            {
                // A file of another project (a ProjectReference's content) or of a package: a link there may not lead
                // out of its own folder either (packages hold none; a link to /etc/shadow in a library project would).
                errors.Add(new OciBundleException(Strings.PublishItemOutsideProject, full, target, "its folder " + Path.GetDirectoryName(full)));
            }
        }

        return errors;
    }
}
