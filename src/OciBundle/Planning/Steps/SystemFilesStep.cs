using System.Text;
using OciBundle.Diagnostics;
using OciBundle.Model;
using OciBundle.Request;

namespace OciBundle.Planning.Steps;

/// <summary>The files every bundle has: accounts, name resolution, a writable /tmp and homes, the kernel's mount points and the user's.</summary>
internal sealed class SystemFilesStep : IPlanStep
{
    private const UnixFileMode Mode1777 = (UnixFileMode)0b1_111_111_111;
    private const UnixFileMode Mode700 = (UnixFileMode)0b111_000_000;

    public void Run(PlanContext context)
    {
        RootfsPlan plan = context.Plan;
        AccountFiles.Plan(context);

        // Without these, glibc asks DNS first and "localhost" does not resolve: an app calling itself, or Kestrel
        // binding to localhost, fails with EAI_AGAIN. The container's own, not the host's. A base image's own
        // nsswitch.conf is its choice (sss, ldap, myhostname) and is kept.
        string hosts = $"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{context.Isolation.Hostname}\n";
        plan.AddContent("/etc/hosts", Encoding.ASCII.GetBytes(hosts), FileModes.Data, "name resolution: localhost and the container's hostname (generated)");
        if (context.Base is null || !AccountFiles.Has(context.Base, "/etc/nsswitch.conf"))
        {
            plan.AddContent("/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"u8.ToArray(), FileModes.Data, "name service order: files before DNS (generated)");
        }

        plan.AddDirectory("/root", "home of root", Mode700);
        plan.AddDirectory(Accounts.App.Home, "home of the app user, writable by it", RootfsPlan.DirectoryMode, owner: (int)Accounts.App.Id);
        plan.AddDirectory("/tmp", "temporary files, writable by every user (1777)", Mode1777);
        foreach (string mountPoint in new[] { "/dev", "/proc", "/sys" })
        {
            plan.AddDirectory(mountPoint, "mount point of the runtime's system mounts");
        }

        AddMountPoints(context);
        AddVolumes(context);
    }

    /// <summary>
    /// Each <c>OciBundleVolume</c>'s folder, the process user's: an engine copies its owner into the volume it makes
    /// for the image (so the app may write it with no <c>-v</c>); in the bundle it is the mount point of the bind.
    /// </summary>
    private static void AddVolumes(PlanContext context)
    {
        RootfsPlan plan = context.Plan;
        UserSpec user = context.Process.User;
        foreach (VolumeSpec volume in context.Volumes)
        {
            for (string path = volume.Path; path != "/"; path = RootfsPlan.Parent(path))
            {
                if (plan.TryGet(path, out RootfsEntry existing) && existing.Kind != RootfsEntryKind.Directory)
                {
                    throw new OciBundleException(Strings.VolumeOnPlannedFile, volume.Path, path, existing.Kind == RootfsEntryKind.Symlink ? $"a link to '{existing.LinkTarget}'" : "a file");
                }
            }

            plan.AddDirectory(volume.Path, $"OciBundleVolume {volume.Path}: the app's data, its user's", RootfsPlan.DirectoryMode,
                user.Uid == 0 ? null : (int)user.Uid, user.Gid == user.Uid ? null : (int)user.Gid);
        }
    }

    /// <summary>
    /// The user's mount points too, so the runtime never has to create them inside rootfs (a run would change the
    /// bundle, and the next publish would have to repair it): a folder, or an empty file for a file bind. Not those
    /// inside an earlier mount: runc makes them in that mount, and rootfs's would be hidden under it.
    /// </summary>
    private static void AddMountPoints(PlanContext context)
    {
        RootfsPlan plan = context.Plan;
        MountShadow shadow = context.Shadow;
        foreach (MountSpec mount in context.Isolation.Mounts.Where(m => !plan.TryGet(m.Destination, out _)
            && shadow.Hider(m.Destination, strict: true, count: shadow.IndexOfUserMount(m.Destination)) is null))
        {
            if (UnderLinkOrFile(plan, mount.Destination))
            {
                continue; // under a symlink or file of the closure: left to the runtime, as before
            }

            if (mount.IsFileBind)
            {
                plan.AddContent(mount.Destination, Array.Empty<byte>(), FileModes.Data, $"mount point of OciBundleMount {mount.Destination}");
            }
            else if (!mount.IsBind && TmpfsRoot(mount) is { } root)
            {
                // runc gives a tmpfs the mode and owner of its mount point: a tmpfs mounted 'mode=1777' over a 755
                // folder is 755 and root's, and the app user cannot write to it. So the mount point is made as asked.
                plan.AddDirectory(mount.Destination, $"mount point of OciBundleMount {mount.Destination} (the tmpfs's mode and owner)", root.Mode, root.Owner);
            }
            else
            {
                plan.AddDirectory(mount.Destination, $"mount point of OciBundleMount {mount.Destination}");
            }
        }
    }

    private static bool UnderLinkOrFile(RootfsPlan plan, string destination)
    {
        bool underLink = false;
        for (string parent = RootfsPlan.Parent(destination); !underLink; parent = RootfsPlan.Parent(parent))
        {
            underLink = plan.TryGet(parent, out RootfsEntry p) && p.Kind != RootfsEntryKind.Directory;
            if (parent == "/")
            {
                break;
            }
        }

        return underLink;
    }

    /// <summary>
    /// The mode and owner a tmpfs mount's options give its root (<c>mode=1777</c>, <c>uid=1654</c>); null when they
    /// give neither. A mode that lets group or others write is kept only with the sticky bit, as for /tmp.
    /// </summary>
    private static (UnixFileMode Mode, int? Owner)? TmpfsRoot(MountSpec mount)
    {
        string? modeText = mount.Options.LastOrDefault(o => o.StartsWith("mode=", StringComparison.Ordinal))?[5..];
        string? uidText = mount.Options.LastOrDefault(o => o.StartsWith("uid=", StringComparison.Ordinal))?[4..];
        UnixFileMode? mode = null;
        if (modeText is not null && modeText.Length is > 0 and <= 4 && modeText.All(c => c is >= '0' and <= '7'))
        {
            int bits = Convert.ToInt32(modeText, 8);
            bool othersWrite = (bits & 0b000_010_010) != 0;
            mode = !othersWrite || (bits & 0b1_000_000_000) != 0 ? (UnixFileMode)bits : null;
        }

        int? owner = uint.TryParse(uidText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint uid) && uid < int.MaxValue ? (int)uid : null;
        return mode is null && owner is null ? null : (mode ?? RootfsPlan.DirectoryMode, owner);
    }
}
