using OciBundle.Closure;
using OciBundle.Dotnet;
using OciBundle.Model;
using OciBundle.Sysroots;
using OciBundle.Storage;

namespace OciBundle.Spdx;

/// <summary>A shared framework copied into a framework-dependent bundle, and the folder it went to.</summary>
internal sealed record BundledFramework(string Name, string Version, string Directory);

/// <summary>Everything the SBOM is made from: the planned files, their digests, and what the planner knows of their origin.</summary>
internal sealed record SbomSources
{
    public required IReadOnlyList<RootfsEntry> Files { get; init; }

    public required IReadOnlyDictionary<string, FileDigest> Digests { get; init; }

    public required string AppName { get; init; }

    /// <summary>The app's folder in the container (the working directory).</summary>
    public required string AppDirectory { get; init; }

    /// <summary>The libraries of the app's deps.json; empty when it has none (Native AOT).</summary>
    public required IReadOnlyList<DepsLibrary> AppLibraries { get; init; }

    public IReadOnlyList<BundledFramework> Frameworks { get; init; } = Array.Empty<BundledFramework>();

    /// <summary>The .NET host (muxer and hostfxr) of a framework-dependent bundle: its version and the paths it covers.</summary>
    public (string Version, IReadOnlyList<string> Paths)? Host { get; init; }

    /// <summary>Runtime packs compiled into the app (Native AOT), by package id and version.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> CompiledRuntimePacks { get; init; } = Array.Empty<KeyValuePair<string, string>>();

    /// <summary>Where each file came from, as the planner decided it (the one place that does).</summary>
    public required Func<RootfsEntry, FileOrigin> Origin { get; init; }

    /// <summary>The sysroot's dpkg database; null when it has none.</summary>
    public PackageDatabase? Packages { get; init; }

    /// <summary>The license expressions read from files, remembered by identity; null: read each file.</summary>
    public LicenseMemory? Licenses { get; init; }

    public OsRelease? Os { get; init; }

    /// <summary>The RID's architecture (<c>x64</c>, <c>arm64</c>), for the runtime pack a shared framework is.</summary>
    public required string RidArch { get; init; }

    /// <summary>The sysroot, for the packages' copyright files.</summary>
    public required SysrootView Sysroot { get; init; }

    /// <summary>The NuGet package folder, for the packages' declared licenses; null when unknown.</summary>
    public string? NuGetPackageRoot { get; init; }

    /// <summary>The package folder's .nupkg files, for the packages' checksums; null when the folder is unknown.</summary>
    public NuGetPackageFiles? PackageFiles { get; init; }

    /// <summary>Recorded as inputs: the copyright files and nuspecs read.</summary>
    public State.InputLedger? Inputs { get; init; }

    /// <summary>The document's creation time: <c>SOURCE_DATE_EPOCH</c>, else the time of the commit built, else 1980-01-01.</summary>
    public required long Epoch { get; init; }

    /// <summary>The digest of the sysroot the libraries came from, when known (a pinned sysroot).</summary>
    public string? SysrootDigest { get; init; }
}
