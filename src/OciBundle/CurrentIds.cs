using OciBundle.Rootfs;

namespace OciBundle;

/// <summary>The ids of the user running the build: what a rootless bundle maps container root to by default.</summary>
public static class CurrentIds
{
    public static uint Uid => NativeMethods.getuid();

    public static uint Gid => NativeMethods.getgid();
}
