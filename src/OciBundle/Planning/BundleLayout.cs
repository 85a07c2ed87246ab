using OciBundle.Rootfs;
using OciBundle.Model;
using OciBundle.State;
using OciBundle.Diagnostics;

namespace OciBundle.Planning;

/// <summary>The planned bundle: rootfs entries, the bytes of config.json, what was left out, and every host input it was made from.</summary>
internal sealed record BundleLayout(RootfsPlan Plan, byte[] Config, IReadOnlyList<string> Args, IReadOnlyList<KeyValuePair<string, string>> Environment, IReadOnlyList<string> Omitted, InputLedger Inputs)
{
    /// <summary>Where the native files came from: the sysroot folder used and, for an archive or image, its digest.</summary>
    public Sysroots.MaterializedSysroot? Sysroot { get; init; }

    /// <summary>The SBOM (<c>sbom.spdx.json</c>), also planned into rootfs; null with <c>OciBundleSbom=false</c>.</summary>
    public byte[]? Sbom { get; init; }

    /// <summary>The libraries of the app's deps.json (which package or project put each app file there), for the image's layers.</summary>
    public IReadOnlyList<Dotnet.DepsLibrary> AppLibraries { get; init; } = Array.Empty<Dotnet.DepsLibrary>();

    /// <summary>Coded warnings of the plan (optional data files left out of a sysroot folder: OCIB1319).</summary>
    public IReadOnlyList<OciBundleException> Warnings { get; init; } = Array.Empty<OciBundleException>();

    /// <summary>The SBOM's file digests by source ("identity\tdigest"), for the next publish to reuse.</summary>
    public IReadOnlyDictionary<string, string> SourceDigests { get; init; } = new Dictionary<string, string>();

    /// <summary>How provenance.json names host paths (relative to the project, <c>$(NuGetPackageRoot)/...</c>).</summary>
    public PortablePaths? Paths { get; init; }

    /// <summary><c>OciImageBase</c>: the image the image is built on (its layers first), or null.</summary>
    public Sysroots.BaseImage? Base { get; init; }

    /// <summary>The process as planned: the request's, its user name resolved by the base's accounts.</summary>
    public required Request.ProcessSpec Process { get; init; }

    /// <summary>The planned paths the base's layers already hold as planned: not written again in the image's own layers.</summary>
    public IReadOnlySet<string> FromBase { get; init; } = new HashSet<string>();

    /// <summary>The image's and the SBOM's <c>created</c>: the commit's time, or <c>SOURCE_DATE_EPOCH</c> (1980-01-01 by default).</summary>
    public long Created { get; init; }

    /// <summary>The commit's time as git gave it ("id seconds"), for the next publish; null when there was none.</summary>
    public string? CommitDate { get; init; }
}
