using OciBundle.Diagnostics;
using OciBundle.Model;

namespace OciBundle.Rootfs;

/// <summary>
/// The bundle's ownership invariant, checked on every plan: nothing is planned under a folder that a user other than
/// root owns (the app user's home, a tmpfs mount point with <c>uid=</c>) or that group or others may write (a sticky
/// folder such as <c>/tmp</c> aside, where nobody can rename or remove another's entry). In rootfs on the host such a
/// folder belongs to that uid too, so a host account with it could rename what the plan put there and put a file
/// or a symlink of its own in its place, which root would then run, read, or mount over.
/// </summary>
/// <remarks>
/// The request's checks keep every path of the user's out of such folders (OCIB1501); this is the planner's own
/// guarantee that no rule of the product does it either. In a rootless bundle every path belongs to the host user
/// who runs it (container root is that user), which is no escalation: that user may change the bundle anyway. Files
/// of a bundle built by a user other than root are that user's, the user whose build root runs: the same trust as
/// in the app it built.
/// </remarks>
internal static class ReplaceableFolders
{
    private const UnixFileMode OthersWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>Throws OCIB1502 naming the first planned path under a folder a non-root user could change.</summary>
    public static void Check(RootfsPlan plan)
    {
        var folders = new Dictionary<string, RootfsEntry>(StringComparer.Ordinal);
        foreach (RootfsEntry entry in plan.Entries)
        {
            if (entry.Kind == RootfsEntryKind.Directory)
            {
                folders[entry.Path] = entry;
            }
        }

        foreach (RootfsEntry entry in plan.Entries.Where(e => e.Path != "/"))
        {
            for (string parent = RootfsPlan.Parent(entry.Path); ; parent = RootfsPlan.Parent(parent))
            {
                if (folders.TryGetValue(parent, out RootfsEntry? folder) && Why(folder) is { } why)
                {
                    throw new OciBundleException(Strings.PlannedUnderReplaceableFolder, entry.Path, parent, why);
                }

                if (parent == "/")
                {
                    break;
                }
            }
        }
    }

    /// <summary>Throws OCIB1612 naming the first planned path under a volume: the volume hides it, and its folder is the app user's.</summary>
    public static void CheckVolumes(RootfsPlan plan, IReadOnlyList<string> volumes)
    {
        foreach (RootfsEntry entry in plan.Entries)
        {
            if (volumes.FirstOrDefault(v => entry.Path != v && ContainerPath.IsSameOrInside(entry.Path, v)) is { } volume)
            {
                throw new OciBundleException(Strings.PlannedUnderVolume, entry.Path, volume);
            }
        }
    }

    /// <summary>Why a non-root user could change what a folder holds, or null.</summary>
    private static string? Why(RootfsEntry folder) =>
        folder.OwnerId is int owner and not 0 ? $"which belongs to uid {owner}"
        : (folder.Mode & OthersWrite) != 0 && (folder.Mode & UnixFileMode.StickyBit) == 0 ? $"which group or others may write (mode {Convert.ToString((int)folder.Mode, 8)})"
        : null;
}
