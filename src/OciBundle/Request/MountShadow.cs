using OciBundle.Diagnostics;
using OciBundle.Model;

namespace OciBundle.Request;

/// <summary>
/// Every mount the container gets, in the order runc makes them: the bundle's own (<c>/proc</c>, <c>/dev</c> and what
/// is below it, <c>/sys</c>, <c>/sys/fs/cgroup</c>, a tmpfs <c>/tmp</c> on a read-only root: the same list config.json
/// is written from) and then the user's. What rootfs holds at or below a mount's destination is hidden when the
/// container runs: the one answer to "which mount hides this path".
/// </summary>
internal sealed class MountShadow
{
    private readonly List<HidingMount> _mounts;

    private MountShadow(List<HidingMount> mounts) => _mounts = mounts;

    public static MountShadow Of(IsolationSpec isolation)
    {
        var mounts = SystemMounts.Of(isolation.Rootless is not null, isolation.ReadOnly, isolation.Mounts)
            .Select(m => new HidingMount(m.Destination, $"the bundle's own {m.Type} mount", false))
            .Concat(isolation.Mounts.Select(m => new HidingMount(m.Destination, $"OciBundleMount '{m.Destination}' ({(m.IsBind ? "a bind of " + m.Source : m.Type)})", true)))
            .ToList();
        return new MountShadow(mounts);
    }

    /// <summary>
    /// The first mount whose destination is <paramref name="path"/> or above it (strictly above, with
    /// <paramref name="strict"/>), among the first <paramref name="count"/> mounts; null when none hides it.
    /// </summary>
    public HidingMount? Hider(string path, bool strict = false, int count = int.MaxValue)
    {
        for (int i = 0; i < _mounts.Count && i < count; i++)
        {
            HidingMount mount = _mounts[i];
            if (ContainerPath.IsSameOrInside(path, mount.Destination) && !(strict && path == mount.Destination))
            {
                return mount;
            }
        }

        return null;
    }

    /// <summary>How many mounts come before the user's mount at <paramref name="destination"/> (its place in config.json).</summary>
    public int IndexOfUserMount(string destination)
    {
        int index = 0;
        foreach (HidingMount mount in _mounts)
        {
            if (mount.User && mount.Destination == destination)
            {
                return index;
            }

            index++;
        }

        return _mounts.Count;
    }

    /// <summary>
    /// The paths of the request the bundle ships and the container must find, checked against every mount (OCIB1500)
    /// and against the app user's home (OCIB1501): the working directory, each <c>OciBundleFile</c> target, and each
    /// absolute <c>OciBundleArg</c> (a program brought in from the sysroot; one under a mount of the user's is taken
    /// from that mount when the container runs, and is not brought in).
    /// </summary>
    public static void CheckRequest(ProcessSpec process, ContentSpec content, IsolationSpec isolation, ParseErrors errors)
    {
        MountShadow shadow = Of(isolation);
        string home = Accounts.App.Home;
        if (ContainerPath.IsSameOrInside(process.WorkingDirectory, home))
        {
            errors.Add(Strings.UnderAppHome, $"OciBundleWorkingDirectory '{process.WorkingDirectory}' (where the app is published)");
        }
        else if (!ProcessSpec.IsSystemFolder(process.WorkingDirectory) && shadow.Hider(process.WorkingDirectory) is { } cwdMount)
        {
            errors.Add(Strings.PathHiddenByMount, $"OciBundleWorkingDirectory '{process.WorkingDirectory}' (where the app is published)", cwdMount.Destination, cwdMount.What);
        }

        foreach (FileSpec file in content.Files)
        {
            string what = $"OciBundleFile '{file.Source}' (TargetPath '{file.TargetPath}')";
            if (ContainerPath.IsSameOrInside(file.TargetPath, home))
            {
                errors.Add(Strings.UnderAppHome, what);
            }
            else if (shadow.Hider(file.TargetPath) is { } fileMount)
            {
                errors.Add(Strings.PathHiddenByMount, what, fileMount.Destination, fileMount.What);
            }
            else if (Directory.Exists(file.Source) && shadow.MountInside(file.TargetPath, file.Source) is { } inside)
            {
                errors.Add(Strings.PathHiddenByMount, $"{what}, whose {inside.Relative}", inside.Destination, inside.What);
            }
        }

        foreach (string arg in process.Args.Where(a => a.StartsWith('/')).Distinct(StringComparer.Ordinal))
        {
            string path = ContainerPath.Normalize(arg);
            if (ContainerPath.IsSameOrInside(path, process.WorkingDirectory))
            {
                continue; // the app's own file
            }

            if (ContainerPath.IsSameOrInside(path, home))
            {
                errors.Add(Strings.UnderAppHome, $"OciBundleArg '{arg}' (a program the bundle would bring in)");
            }
            else if (shadow.Hider(path) is { User: false } argMount)
            {
                errors.Add(Strings.PathHiddenByMount, $"OciBundleArg '{arg}' (a program the bundle would bring in)", argMount.Destination, argMount.What);
            }
        }
    }

    /// <summary>A mount strictly inside a folder an <c>OciBundleFile</c> brings in, over something that folder holds.</summary>
    private (string Destination, string What, string Relative)? MountInside(string target, string sourceFolder)
    {
        foreach ((string destination, string what, _) in _mounts)
        {
            if (destination != target && ContainerPath.IsSameOrInside(destination, target))
            {
                string relative = destination[(target == "/" ? 1 : target.Length + 1)..];
                string host = Path.Combine(sourceFolder, relative);
                if (File.Exists(host) || Directory.Exists(host) || Interop.NativeMethods.LStat(host) is not null)
                {
                    return (destination, what, $"'{relative}' would be planned at {destination}");
                }
            }
        }

        return null;
    }
}

/// <summary>
/// A mount as <see cref="MountShadow"/> answers it: its destination, what it is (for messages), and whether the user
/// asked for it (a class, not a tuple: a framework list of a value type is compiled on each publish).
/// </summary>
internal sealed record HidingMount(string Destination, string What, bool User);
