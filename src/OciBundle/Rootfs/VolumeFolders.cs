using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Request;

namespace OciBundle.Rootfs;

/// <summary>
/// The host folders the bundle's volumes bind: made when missing (the default ones beside the bundle, in
/// <c>&lt;bundle&gt;.volumes/</c>, and a missing <c>Source</c>), given to the app user as the host sees it (the
/// rootless mapping's host user, else the process's uid and gid), and never emptied, moved or deleted: neither a
/// republish's swap of the bundle folder nor clean reaches them. A folder the app could not write is a warning.
/// </summary>
internal static class VolumeFolders
{
    private const UnixFileMode FolderMode = (UnixFileMode)0b111_101_101;

    /// <summary>Makes and checks every volume's host folder; throws OCIB1614 when one is not a folder the product may use.</summary>
    public static void Prepare(BundleRequest request, Action<string> log, Action<OciBundleException> warn)
    {
        if (request.Output.BundleDirectory is not { } bundle)
        {
            return;
        }

        (uint uid, uint gid) = request.Isolation.Rootless is { } rootless
            ? (rootless.HostUid, rootless.HostGid)
            : (request.Process.User.Uid, request.Process.User.Gid);
        string who = request.Isolation.Rootless is not null ? "the rootless mapping's host user (OciBundleHostUid)" : "OciBundleUser";
        foreach (VolumeSpec volume in request.Volumes)
        {
            if (volume.HostFolder is not { } folder)
            {
                continue;
            }

            if (!volume.SourceGiven)
            {
                string dir = VolumeSpec.DefaultRoot(bundle);
                EnsureParent(dir, volume.Path);
                string[] names = volume.Path.TrimStart('/').Split('/');
                foreach (string name in names[..^1])
                {
                    dir = Path.Combine(dir, name);
                    EnsureParent(dir, volume.Path);
                }
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(folder) ?? "/");
            }

            if (NativeMethods.LStat(folder) is null)
            {
                Make(folder, volume.Path, uid, gid, log);
            }

            Check(folder, volume, uid, gid, who, warn);
        }
    }

    /// <summary>A folder on the way to a default volume folder: the build user's (or root's), 0755, never a link or a folder others may write.</summary>
    private static void EnsureParent(string dir, string volume)
    {
        if (NativeMethods.LStat(dir) is null)
        {
            Directory.CreateDirectory(dir, FolderMode);
        }

        var st = NativeMethods.LStat(dir)!.Value;
        string? wrong = (st.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFDIR ? "is not a folder (a link or a file), and the product follows no link on the way to a volume's data"
            : st.Uid != 0 && st.Uid != NativeMethods.getuid() ? $"belongs to uid {st.Uid}, neither root nor the user who builds"
            : (st.Mode & 0b000_010_010) != 0 ? $"may be written by group or others (mode {Convert.ToString(st.Mode & 0b111_111_111_111, 8)}), who could swap the app's data folder"
            : null;
        if (wrong is not null)
        {
            throw new OciBundleException(Strings.VolumeFolderUnusable, dir, volume, wrong);
        }
    }

    private static void Make(string folder, string volume, uint uid, uint gid, Action<string> log)
    {
        try
        {
            Directory.CreateDirectory(folder, FolderMode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.VolumeFolderUnusable, folder, volume, $"cannot be made: {e.Message}");
        }

        // Only root gives a folder away; a folder the build user made for itself needs no change when the app runs as that user.
        if ((uid, gid) != (NativeMethods.getuid(), NativeMethods.getgid()) && NativeMethods.getuid() == 0)
        {
            NativeMethods.lchown(folder, uid, gid);
        }

        log($"OciBundleVolume {volume}: made {folder} for the app's data (uid {uid}, gid {gid}); no publish or clean removes it.");
    }

    /// <summary>OCIB1614 when it is not a folder; OCIB1611 (a warning) when the app's host user may not write it.</summary>
    private static void Check(string folder, VolumeSpec volume, uint uid, uint gid, string who, Action<OciBundleException> warn)
    {
        bool isLink = NativeMethods.LStat(folder) is { } own && (own.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFLNK;
        if (!Directory.Exists(folder) || (isLink && !volume.SourceGiven))
        {
            throw new OciBundleException(Strings.VolumeFolderUnusable, folder, volume.Path, isLink ? "is a link, and the product follows no link to a volume's data" : "is not a folder");
        }

        string real = isLink ? new DirectoryInfo(folder).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? folder : folder;
        var st = NativeMethods.LStat(real)!.Value;
        uint mode = st.Mode & 0b111_111_111u;
        bool writable = st.Uid == uid ? (mode & 0b010_000_000) != 0 && (mode & 0b001_000_000) != 0
            : st.Gid == gid ? (mode & 0b000_010_000) != 0 && (mode & 0b000_001_000) != 0
            : (mode & 0b000_000_010) != 0 && (mode & 0b000_000_001) != 0;
        if (!writable)
        {
            warn(new OciBundleException(Strings.VolumeNotWritable, folder, volume.Path, st.Uid, st.Gid, Convert.ToString(mode, 8).PadLeft(4, '0'), uid, gid, who));
        }
    }
}
