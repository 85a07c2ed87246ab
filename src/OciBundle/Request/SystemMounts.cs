namespace OciBundle.Request;

/// <summary>
/// The mounts config.json makes before the user's, in order: the seed's seven system mounts (and a tmpfs /tmp for a
/// read-only root), rootless as <c>runc spec --rootless</c> adapts them. The runtime spec writes them; the request's
/// checks (<see cref="MountShadow"/>) read them to know what hides a path of rootfs when the container runs.
/// </summary>
internal static class SystemMounts
{
    public static IReadOnlyList<MountSpec> Of(bool rootless, bool readOnly, IReadOnlyList<MountSpec> mounts)
    {
        var all = new List<MountSpec>
        {
            Mount("/proc", "proc", "proc"),
            Mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
            rootless
                ? Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620")
                : Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
            Mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
            Mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
        };
        if (rootless)
        {
            // A user namespace may not mount a new sysfs or cgroupfs; bind the host's /sys read-only instead.
            all.Add(Mount("/sys", "none", "/sys", "rbind", "nosuid", "noexec", "nodev", "ro"));
        }
        else
        {
            all.Add(Mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"));
            all.Add(Mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"));
        }

        if (readOnly && !mounts.Any(m => m.Destination == "/tmp"))
        {
            all.Add(Mount("/tmp", "tmpfs", "tmpfs", "nosuid", "nodev", "mode=1777"));
        }

        return all;
    }

    private static MountSpec Mount(string destination, string type, string source, params string[] options) =>
        new(destination, type, source, options);
}
