using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Outputs;

namespace OciBundle.Request;

/// <summary>
/// One <c>OciBundleVolume</c>: a folder of the container the app keeps its data in. The image lists it in
/// <c>Volumes</c> (an engine gives it a volume of its own); the bundle binds a host folder over it: the item's
/// <c>Source</c>, or by default a folder beside the bundle (<see cref="DefaultRoot"/>), which neither a republish's swap
/// of the bundle folder nor clean ever touches. <see cref="HostFolder"/> and <see cref="MountSource"/> are null
/// when no bundle is written.
/// </summary>
internal sealed record VolumeSpec(string Path, string? HostFolder, string? MountSource, bool SourceGiven)
{
    /// <summary>What the default host folders' parent adds to the bundle folder's name: <c>oci-bundle.volumes</c>.</summary>
    public const string FolderSuffix = ".volumes";

    /// <summary>The bind mount config.json makes: the app's data, writable, never a program or a device.</summary>
    public MountSpec? Mount => MountSource is null ? null : new MountSpec(Path, "bind", MountSource, new Seq<string>(new[] { "rbind", "rw", "nosuid", "nodev" }));

    /// <summary>Where the default host folders of <paramref name="bundle"/>'s volumes go: beside it, <c>&lt;bundle&gt;.volumes</c>.</summary>
    public static string DefaultRoot(string bundle) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(bundle) ?? "/", System.IO.Path.GetFileName(bundle) + FolderSuffix);

    /// <summary>Every <c>OciBundleVolume</c>, checked against each other, the app, the mounts and the outputs; every mistake at once.</summary>
    public static IReadOnlyList<VolumeSpec> ParseAll(BundleOptions o, ProcessSpec process, ContentSpec content, IsolationSpec isolation, OutputSpec output, ParseErrors errors)
    {
        var volumes = new List<VolumeSpec>();
        foreach (VolumeOption item in o.Volumes)
        {
            if (ParsePath(item.Path, process, content, isolation, errors) is not { } path)
            {
                continue;
            }

            if (volumes.FirstOrDefault(v => ContainerPath.IsSameOrInside(v.Path, path) || ContainerPath.IsSameOrInside(path, v.Path)) is { } other)
            {
                errors.Add(Strings.VolumesOverlap, MountRules.Shown(item.Path), other.Path, other.Path == path ? "name the same folder" : "are one inside the other");
                continue;
            }

            if (string.IsNullOrWhiteSpace(item.Source))
            {
                string? bundle = output.BundleDirectory;
                volumes.Add(bundle is null
                    ? new VolumeSpec(path, null, null, false)
                    : new VolumeSpec(path, DefaultRoot(bundle) + path, "../" + System.IO.Path.GetFileName(bundle) + FolderSuffix + path, false));
            }
            else if (ParseSource(item, o, content, output, errors) is { } source)
            {
                volumes.Add(output.BundleDirectory is null ? new VolumeSpec(path, null, null, true) : new VolumeSpec(path, source, source, true));
            }
        }

        return new Seq<VolumeSpec>(volumes);
    }

    private static string? ParsePath(string raw, ProcessSpec process, ContentSpec content, IsolationSpec isolation, ParseErrors errors)
    {
        string value = raw.Trim();
        if (!value.StartsWith('/'))
        {
            errors.Add(Strings.VolumeNotAbsolute, MountRules.Shown(raw));
            return null;
        }

        if ((ContainerPath.HasDotDot(value) ? "it holds '..', which would lead elsewhere" : MountRules.PathProblem("the path", value)) is { } problem)
        {
            errors.Add(Strings.InvalidVolumePath, MountRules.Shown(raw), problem);
            return null;
        }

        string path = ContainerPath.Normalize(value);
        string? reserved = path == "/" ? "/, the root of the container"
            : new[] { "/proc", "/dev", "/sys", "/tmp" }.FirstOrDefault(d => ContainerPath.IsSameOrInside(path, d)) is { } mount ? $"{mount}, where the bundle mounts a file system of its own"
            : ProcessSpec.IsSystemFolder(path) ? $"{path}, a system folder the bundle fills"
            : null;
        string? app = ContainerPath.IsSameOrInside(path, process.WorkingDirectory) || ContainerPath.IsSameOrInside(process.WorkingDirectory, path) ? $"the app folder {process.WorkingDirectory} (OciBundleWorkingDirectory)"
            : content.Files.FirstOrDefault(f => ContainerPath.IsSameOrInside(path, f.TargetPath) || ContainerPath.IsSameOrInside(f.TargetPath, path)) is { } file ? $"OciBundleFile '{file.Source}' (TargetPath '{file.TargetPath}')"
            : null;
        MountSpec? overlap = isolation.Mounts.FirstOrDefault(m => ContainerPath.IsSameOrInside(path, m.Destination) || ContainerPath.IsSameOrInside(m.Destination, path));
        if (reserved is not null)
        {
            errors.Add(Strings.VolumeReserved, MountRules.Shown(raw), reserved);
        }
        else if (path != Accounts.App.Home && ContainerPath.IsSameOrInside(path, Accounts.App.Home))
        {
            errors.Add(Strings.UnderAppHome, $"OciBundleVolume '{MountRules.Shown(raw)}' (its mount point)");
        }
        else if (app is not null)
        {
            errors.Add(Strings.VolumeOverlapsApp, MountRules.Shown(raw), app);
        }
        else if (overlap is not null)
        {
            errors.Add(Strings.VolumeOverlapsMount, MountRules.Shown(raw), overlap.Destination, overlap.Destination == path ? "name the same folder" : "are one inside the other");
        }
        else
        {
            return path;
        }

        return null;
    }

    /// <summary>A <c>Source</c>: an absolute host folder (made when missing), apart from the outputs, the project and the system.</summary>
    private static string? ParseSource(VolumeOption item, BundleOptions o, ContentSpec content, OutputSpec output, ParseErrors errors)
    {
        string raw = item.Source!.Trim();
        string? wrong = raw.Any(char.IsControl) ? "holds a control character"
            : !raw.StartsWith('/') ? "is not an absolute path (a volume's data must not depend on the folder a build runs in)"
            : ContainerPath.HasDotDot(raw) ? "holds '..'"
            : MountRules.PathProblem("it", raw) is { } problem ? problem.Replace("it has", "has", StringComparison.Ordinal).Replace("it is", "is", StringComparison.Ordinal)
            : null;
        if (wrong is not null)
        {
            errors.Add(Strings.VolumeSourceInvalid, MountRules.Shown(item.Path), MountRules.Shown(raw), wrong);
            return null;
        }

        string full = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(raw));
        var protectedFolders = o.ProtectedDirectories.Append(o.ProjectDirectory ?? "").ToList();
        var outputs = new[] { (output.BundleDirectory, "OciBundleDir"), (output.Image?.Directory, "OciImageDir"), (content.PublishDirectory, "the publish folder") }
            .Where(x => !string.IsNullOrEmpty(x.Item1)).Select(x => (Folder: x.Item1!, What: x.Item2)).ToList();
        string? unsafeReason = OutputFolder.ProtectedReason(full, protectedFolders)
            ?? outputs.Where(x => ContainerPath.IsSameOrInside(full, x.Folder)).Select(x => $"is inside {x.What} {x.Folder}, which is replaced as a whole").FirstOrDefault()
            ?? outputs.Where(x => ContainerPath.IsSameOrInside(x.Folder, full)).Select(x => $"holds {x.What} {x.Folder}: the app user would own the folder it is in").FirstOrDefault();
        if (unsafeReason is not null)
        {
            errors.Add(Strings.VolumeSourceUnsafe, MountRules.Shown(item.Path), full, unsafeReason.StartsWith("it ", StringComparison.Ordinal) ? unsafeReason[3..] : unsafeReason);
            return null;
        }

        if (Kind(full) is { } kind)
        {
            errors.Add(Strings.VolumeSourceNotFolder, MountRules.Shown(item.Path), full, kind);
            return null;
        }

        return full;
    }

    /// <summary>What a path that is not a folder is (links followed), or null for a folder or a missing path.</summary>
    private static string? Kind(string path)
    {
        if (Directory.Exists(path) || NativeMethods.LStat(path) is not { } st)
        {
            return null;
        }

        uint type = st.Mode & NativeMethods.S_IFMT;
        return type == NativeMethods.S_IFREG ? "a file"
            : type == NativeMethods.S_IFLNK ? (File.Exists(path) ? "a link to a file" : "a link that leads nowhere")
            : "a device, socket or pipe";
    }
}
