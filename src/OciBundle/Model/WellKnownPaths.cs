namespace OciBundle.Model;

/// <summary>
/// Fixed names: places inside the container and files beside rootfs, shared by the planner, the writers and the
/// rule that decides which folders are outputs of ours.
/// </summary>
internal static class WellKnownPaths
{
    /// <summary>Where a framework-dependent app's .NET goes in rootfs: the default location the app host probes.</summary>
    public const string DotnetRoot = "/usr/share/dotnet";

    /// <summary><c>provenance.json</c>, beside config.json: every path in rootfs and why it is there.</summary>
    public const string ProvenanceFile = "provenance.json";

    /// <summary>The SBOM's file name, beside config.json.</summary>
    public const string SbomFile = "sbom.spdx.json";

    /// <summary>Where the SBOM is in rootfs: and so in the image, named by the image's annotations.</summary>
    public const string SbomInContainer = "/usr/share/sbom/" + SbomFile;
}
