namespace OciBundle.Rootfs;

/// <summary>Fixed places inside the container, shared by the planner and the writers.</summary>
internal static class ContainerPaths
{
    /// <summary>Where a framework-dependent app's .NET goes in rootfs: the default location the app host probes.</summary>
    public const string DotnetRoot = "/usr/share/dotnet";
}
