using OciBundle.Diagnostics;
using OciBundle.Model;
using OciBundle.Request;

namespace OciBundle.Planning;

/// <summary>
/// The user's mounts against what the plan puts at and under their destinations, as runc will meet them: a folder is
/// mounted only on a folder and a file only on a file (mount(2) fails with ENOTDIR otherwise, OCIB1542), and a mount
/// that brings an empty file system (a tmpfs, ramfs, proc...) hides what rootfs holds below it, so it may not cover a
/// file the program needs to start: the ELF interpreter, a library of the closure, or the app's own files (OCIB1543).
/// Nor may a bind (OCIB1545): it brings the host's files, which the build cannot know and whose libraries are not the
/// closure it planned (an empty host folder there fails just as a tmpfs does).
/// </summary>
internal static class MountTargets
{
    public static void Check(PlanContext context)
    {
        RootfsPlan plan = context.Plan;
        MountShadow shadow = context.Shadow;
        HashSet<string>? needed = null;
        foreach (MountSpec mount in context.Isolation.Mounts)
        {
            if (shadow.Hider(mount.Destination, strict: true, count: shadow.IndexOfUserMount(mount.Destination)) is not null)
            {
                continue; // inside an earlier mount: runc makes its mount point there, and rootfs's paths are hidden anyway
            }

            if (plan.TryGet(mount.Destination, out RootfsEntry at) && KindProblem(mount, at) is { } problem)
            {
                throw new OciBundleException(Strings.MountOverWrongKind, mount.Destination, problem, at.Reason);
            }

            needed ??= NeededToStart(context);
            string[] hidden = needed.Where(p => ContainerPath.IsSameOrInside(p, mount.Destination)).Order(StringComparer.Ordinal).ToArray();
            if (hidden.Length > 0)
            {
                throw mount.IsBind
                    ? new OciBundleException(Strings.BindHidesWhatTheProgramNeeds, mount.Destination, mount.Source, hidden[0], hidden.Length)
                    : new OciBundleException(Strings.MountHidesWhatTheProgramNeeds, mount.Destination, mount.Type, hidden[0], hidden.Length);
            }
        }
    }

    /// <summary>Why runc could not mount <paramref name="mount"/> over the planned <paramref name="entry"/>, or null.</summary>
    private static string? KindProblem(MountSpec mount, RootfsEntry entry) => entry.Kind switch
    {
        RootfsEntryKind.File when !mount.IsFileBind => $"a {(mount.IsBind ? "bind of the folder " + mount.Source : mount.Type + " file system")} would be mounted on a file",
        RootfsEntryKind.Directory when mount.IsFileBind => $"a bind of the file {mount.Source} would be mounted on a folder",
        _ => null,
    };

    /// <summary>The paths the program loads before its first line runs: the ELF closure (as loaded and as stored), its interpreters, and every file of the app's folder.</summary>
    private static HashSet<string> NeededToStart(PlanContext context)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in context.ElfClosure.Files)
        {
            paths.Add(node.RequestedPath);
            paths.Add(node.RootfsPath);
        }

        paths.UnionWith(context.ElfClosure.Interpreters);
        string cwd = context.Process.WorkingDirectory;
        paths.UnionWith(context.Plan.Entries.Where(e => e.Kind != RootfsEntryKind.Directory && ContainerPath.IsSameOrInside(e.Path, cwd)).Select(e => e.Path));
        return paths;
    }
}
