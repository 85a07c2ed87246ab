using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Model;

namespace OciBundle.Request;

/// <summary>
/// Publish copies its items' contents, following symlinks: a link in the project to <c>/etc/shadow</c> would arrive
/// in <c>/app</c> as a plain file, indistinguishable from the app's own. So, before the copy, every item whose
/// source is inside the project folder must really be there, links resolved.
/// </summary>
internal static class PublishItemCheck
{
    /// <summary>
    /// The errors for items that lead out of <paramref name="projectDirectory"/> through a symlink (of the file or of
    /// a folder on its way); for items of other projects, out of the folder they share with this one. Files under
    /// <paramref name="trustedDirectories"/> (NuGet's package folder, the SDK's packs) are not the projects' own and
    /// are not checked.
    /// </summary>
    public static IReadOnlyList<OciBundleException> Check(string projectDirectory, IEnumerable<string> itemPaths, IEnumerable<string>? trustedDirectories = null)
    {
        var errors = new List<OciBundleException>();
        string project = Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDirectory));
        string? realProject = NativeMethods.RealPath(project);
        if (realProject is null)
        {
            return errors;
        }

        var trusted = (trustedDirectories ?? Array.Empty<string>()).Select(d => Path.TrimEndingDirectorySeparator(Path.GetFullPath(d))).Where(d => d.Length > 1).ToList();
        foreach (string item in itemPaths.Distinct(StringComparer.Ordinal))
        {
            string full = Path.GetFullPath(item, project);
            if (ContainerPath.IsSameOrInside(full, project))
            {
                // The project's own files: wherever their links lead, it must be inside the project.
                if (NativeMethods.RealPath(full) is { } real && !ContainerPath.IsSameOrInside(real, realProject))
                {
                    errors.Add(new OciBundleException(Strings.PublishItemOutsideProject, full, real, "the project folder"));
                }

                continue;
            }

            if (trusted.Any(t => ContainerPath.IsSameOrInside(full, t)))
            {
                continue;
            }

            // A file of another project (a ProjectReference's content, a shared folder): no link on its way, below
            // the folder it shares with this project, may lead out of that folder.
            string common = CommonFolder(full, project);
            string? realCommon = NativeMethods.RealPath(common);
            for (string path = full; path.Length > common.Length; path = Path.GetDirectoryName(path)!)
            {
                if (NativeMethods.LStat(path) is { } st && (st.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFLNK
                    && NativeMethods.RealPath(path) is { } target && (realCommon is null || !ContainerPath.IsSameOrInside(target, realCommon)))
                {
                    errors.Add(new OciBundleException(Strings.PublishItemOutsideProject, full, target, common));
                    break;
                }
            }
        }

        return errors;
    }

    private static string CommonFolder(string a, string b)
    {
        string[] x = a.Split('/', StringSplitOptions.RemoveEmptyEntries), y = b.Split('/', StringSplitOptions.RemoveEmptyEntries);
        int n = 0;
        while (n < x.Length - 1 && n < y.Length && x[n] == y[n])
        {
            n++;
        }

        return "/" + string.Join('/', x.Take(n));
    }
}
