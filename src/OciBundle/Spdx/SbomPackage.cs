using OciBundle.Model;

namespace OciBundle.Spdx;

/// <summary>One package of the SBOM (a Debian package, a NuGet package, a shared framework, the app...), before it is JSON.</summary>
internal sealed class SbomPackage
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public string? Version { get; init; }
    public string? Purpose { get; init; }
    public string? Purl { get; init; }
    public string? Supplier { get; init; }
    public string License { get; init; } = DeclaredLicense.NoAssertion;
    public string? SourceInfo { get; init; }

    /// <summary>The .nupkg file the checksum is of, and its SHA-512: only ever the hash of that very file.</summary>
    public (string FileName, string Sha512)? PackageFile { get; init; }

    /// <summary>NuGet's contentHash (the package without its signature), kept in an annotation: it is no checksum of a file SPDX knows.</summary>
    public string? ContentHash { get; init; }

    public string? Comment { get; init; }
    public bool AppDependency { get; init; }
    public List<string> FileIds { get; } = new();
}

/// <summary>A regular file of rootfs in the SBOM: its SPDX id, the package that put it there (null: the bundle's own), and a note on where it came from.</summary>
internal sealed record ListedFile(RootfsEntry Entry, string Id, SbomPackage? Owner, string? Comment);
