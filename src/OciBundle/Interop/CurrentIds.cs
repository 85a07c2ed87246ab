namespace OciBundle.Interop;

/// <summary>The ids of the user running the build: what a rootless bundle maps container root to by default.</summary>
internal static class CurrentIds
{
    public static uint Uid => NativeMethods.getuid();

    public static uint Gid => NativeMethods.getgid();
}
