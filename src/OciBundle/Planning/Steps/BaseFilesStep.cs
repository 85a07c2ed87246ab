using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Request;
using OciBundle.Sysroots;

namespace OciBundle.Planning.Steps;

/// <summary>
/// With a base image, which planned paths its tree already holds as planned: the same file (the very inode the plan
/// took from the base's unpacked tree), the same link, the same directory, each with the planned mode and owners as
/// the base's layers say them. The image's own layers leave those out (the base's layers carry them); what is new or
/// different is written on top, so no whiteout is ever needed. Then the rest of the base's tree joins the plan as it is
/// (its owners and full modes as its layers' headers say, recorded by the sysroot cache beside the unpacked tree:
/// <see cref="BaseImage.EntryOf"/>), so the bundle's rootfs is the base's tree with the same files on
/// top as the image: what the product planned wins over the base at the same path (and the base's tree below a path the
/// product made something else is left out, as the image's layers would hide it).
/// </summary>
internal sealed class BaseFilesStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        if (context.Base is not { } baseImage)
        {
            context.FromBase = new HashSet<string>(StringComparer.Ordinal);
            return;
        }

        var fromBase = new HashSet<string>(StringComparer.Ordinal);
        foreach (RootfsEntry entry in context.Plan.Entries)
        {
            if (entry.Path != "/" && InBase(baseImage, entry))
            {
                fromBase.Add(entry.Path);
            }
        }

        foreach (VolumeSpec volume in context.Volumes)
        {
            CheckVolume(baseImage, volume.Path);
        }

        CheckBaseVolumes(context, baseImage, fromBase);

        int planned = context.Plan.Count;
        int added = AddTree(context.Plan, baseImage, fromBase, context.Cancel);
        context.Log($"Base image {baseImage.Source}: {fromBase.Count - added} of {planned} planned paths are in its layers as planned, {planned - fromBase.Count + added} go on top; {added} more paths of its tree planned for the bundle.");
        context.FromBase = fromBase;
    }

    /// <summary>
    /// A volume against the base's tree, as <c>SystemFilesStep</c> and <c>ReplaceableFolders</c> check it against the
    /// product's files (which the base's tree joins only here): no link or file of the base on its way (OCIB1613), and
    /// nothing of the base under it, which the bind would hide and the app user would own (OCIB1612).
    /// </summary>
    private static void CheckVolume(BaseImage baseImage, string volume)
    {
        var ways = new Stack<string>();
        for (string path = volume; path != "/"; path = RootfsPlan.Parent(path))
        {
            ways.Push(path);
        }

        // From the root down, so a link is met before anything is looked up through it.
        foreach (string path in ways)
        {
            var info = new FileInfo(baseImage.Root + path);
            if (info.LinkTarget is { } target)
            {
                throw new OciBundleException(Strings.VolumeOnPlannedFile, volume, path, $"a link to '{target}' of the base image");
            }

            if (info.Exists)
            {
                throw new OciBundleException(Strings.VolumeOnPlannedFile, volume, path, "a file of the base image");
            }
        }

        if (Directory.Exists(baseImage.Root + volume)
            && Directory.EnumerateFileSystemEntries(baseImage.Root + volume).Order(StringComparer.Ordinal).FirstOrDefault() is { } first)
        {
            throw new OciBundleException(Strings.PlannedUnderVolume, volume + "/" + Path.GetFileName(first), volume);
        }
    }

    /// <summary>
    /// The base config's own <c>Volumes</c>, which the image keeps: an engine mounts a volume at each, filled from the
    /// image only when new, so a volume kept from an earlier run hides what a newer image puts there. Not at, above or
    /// inside the app's folder (OCIB1661), and nothing the product puts (a file, a link, a folder of its own below it)
    /// under one (OCIB1662); the base's own files under it are the base's design. A folder the product makes at the
    /// volume itself (an <c>OciBundleVolume</c> of the same path, which the bundle binds) is no mistake.
    /// </summary>
    private static void CheckBaseVolumes(PlanContext context, BaseImage baseImage, HashSet<string> fromBase)
    {
        string app = ContainerPath.Normalize(context.Process.WorkingDirectory);
        foreach (string declared in baseImage.Config.Config?.Volumes?.Keys.Order(StringComparer.Ordinal) ?? Enumerable.Empty<string>())
        {
            string volume = ContainerPath.Normalize(declared);
            if (ContainerPath.IsSameOrInside(volume, app) || ContainerPath.IsSameOrInside(app, volume))
            {
                throw new OciBundleException(Strings.BaseVolumeOverApp, baseImage.Source, declared, app);
            }

            RootfsEntry? hidden = context.Plan.Entries
                .Where(e => e.Path != "/" && !fromBase.Contains(e.Path) && ContainerPath.IsSameOrInside(e.Path, volume) && (e.Kind != RootfsEntryKind.Directory || e.Path != volume))
                .OrderBy(e => e.Path, StringComparer.Ordinal).FirstOrDefault();
            if (hidden is not null)
            {
                throw new OciBundleException(Strings.BaseVolumeOverPlanned, baseImage.Source, declared, hidden.Path, hidden.Reason);
            }
        }
    }

    /// <summary>Every path of the base's tree the plan does not have, planned as the base has it; how many.</summary>
    private static int AddTree(RootfsPlan plan, BaseImage baseImage, HashSet<string> fromBase, CancellationToken cancel)
    {
        int added = 0;
        var pending = new Stack<string>();
        pending.Push("/");
        string reason = "base image " + baseImage.Name;
        while (pending.Count > 0)
        {
            cancel.ThrowIfCancellationRequested();
            string folder = pending.Pop();
            var children = new DirectoryInfo(baseImage.Root + (folder == "/" ? "" : folder)).EnumerateFileSystemInfos().OrderBy(c => c.Name, StringComparer.Ordinal);
            foreach (FileSystemInfo child in children)
            {
                string path = folder == "/" ? "/" + child.Name : folder + "/" + child.Name;
                if (plan.TryGet(path, out RootfsEntry existing))
                {
                    if (existing.Kind == RootfsEntryKind.Directory && child.LinkTarget is null && (child.Attributes & FileAttributes.Directory) != 0)
                    {
                        pending.Push(path); // the product's folder over the base's: the base's other files in it stay
                    }

                    continue;
                }

                if (baseImage.EntryOf(path, reason) is not { } entry)
                {
                    continue;
                }

                plan.AddAsMade(entry);
                if (entry.Kind == RootfsEntryKind.Directory)
                {
                    pending.Push(path);
                }

                fromBase.Add(path);
                added++;
            }
        }

        return added;
    }

    /// <summary>Whether the base's tree holds <paramref name="entry"/> as planned.</summary>
    internal static bool InBase(BaseImage baseImage, RootfsEntry entry)
    {
        if (entry.Content is not null)
        {
            return false;
        }

        string host = baseImage.Root + entry.Path;
        if (NativeMethods.LStat(host) is not { } s)
        {
            return false;
        }

        // As the base's layers have it (owner, group, mode with its special bits), not as the cache unpacked it.
        HeaderOwnership header = baseImage.OwnershipOf(entry.Path, s);
        int owner = entry.OwnerId ?? 0;
        if (header.Uid != owner || header.Gid != (entry.GroupId ?? owner))
        {
            return false;
        }

        uint type = s.Mode & NativeMethods.S_IFMT;
        bool sameMode = header.Mode == entry.Mode;
        return entry.Kind switch
        {
            RootfsEntryKind.File => type == NativeMethods.S_IFREG && sameMode && (entry.SourceInode == 0 || entry.SourceInode == s.Inode)
                && entry.SourcePath is { } source && NativeMethods.LStat(source) is { } src && src.Inode == s.Inode && src.DevMajor == s.DevMajor && src.DevMinor == s.DevMinor,
            RootfsEntryKind.Symlink => type == NativeMethods.S_IFLNK && new FileInfo(host).LinkTarget == entry.LinkTarget,
            RootfsEntryKind.Directory => type == NativeMethods.S_IFDIR && sameMode,
            _ => false,
        };
    }
}
