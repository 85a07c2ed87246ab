using System.Security.Cryptography;
using System.Text;
using OciBundle.Closure;
using OciBundle.Dotnet;
using OciBundle.Model;

namespace OciBundle.Spdx;

/// <summary>
/// What the SBOM lists, before it is JSON: the app, the packages (NuGet packages and runtime packs of the app, shared
/// frameworks and the .NET host, Debian packages that own a file), in the order the document lists them, and every
/// regular file with the package that put it there.
/// </summary>
internal sealed class SbomInventory
{
    private const string NoAssertion = DeclaredLicense.NoAssertion;

    private readonly SbomSources _s;
    private readonly SpdxNames _names = new();
    private readonly Dictionary<string, SbomPackage> _byAppFile = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SbomPackage> _debs = new(StringComparer.Ordinal);
    private List<(string Directory, SbomPackage Package)> _frameworks = new();
    private SbomPackage? _host;
    private HashSet<string> _hostPaths = new(StringComparer.Ordinal);

    private SbomInventory(SbomSources s)
    {
        _s = s;
        AppVersion = s.AppLibraries.FirstOrDefault(l => l.Type == "project" && l.Name == s.AppName)?.Version ?? NoAssertion;
        App = new SbomPackage { Id = SpdxNames.AppId, Name = s.AppName, Version = AppVersion, Purpose = "APPLICATION", Comment = "the app: the publish output, less what its deps.json credits to packages" };
    }

    /// <summary>The app's version, from its deps.json (NOASSERTION without one).</summary>
    public string AppVersion { get; }

    public SbomPackage App { get; }

    /// <summary>Every package but the bundle, the app and the operating system, in the document's order.</summary>
    public List<SbomPackage> Packages { get; } = new();

    /// <summary>Every regular file but the SBOM itself, by path.</summary>
    public List<ListedFile> Files { get; } = new();

    public static SbomInventory Collect(SbomSources s)
    {
        var inventory = new SbomInventory(s);
        inventory.AddAppPackages();
        inventory.AddCompiledRuntimePacks();
        inventory.AddDotnetInstallation();
        inventory.AddFiles();
        // In key order (a hash table sorted once: a sorted one is compiled on each publish).
        string[] debs = inventory._debs.Keys.ToArray();
        Array.Sort(debs, StringComparer.Ordinal);
        inventory.Packages.AddRange(debs.Select(k => inventory._debs[k]));
        return inventory;
    }

    /// <summary>
    /// The package files the SBOM asks <see cref="NuGetPackageFiles"/> for: the app's NuGet packages and runtime pack, and a
    /// Native AOT app's compiled-in runtime packs (its deps.json's runtime pack is the JIT runtime it does not carry).
    /// </summary>
    public static IEnumerable<(string Id, string Version, string? PackagePath)> PackageFilesOf(IReadOnlyList<DepsLibrary> libraries, IReadOnlyList<KeyValuePair<string, string>> compiled) =>
        NuGetLibraries(libraries, compiled).Select(l => (l.Name, l.Version, l.PackagePath))
            .Concat(CompiledOnly(libraries, compiled).Select(p => (p.Key, p.Value, (string?)null)));

    private static IEnumerable<DepsLibrary> NuGetLibraries(IReadOnlyList<DepsLibrary> libraries, IReadOnlyList<KeyValuePair<string, string>> compiled) =>
        libraries.Where(l => l.Type == "package" || (l.Type == "runtimepack" && compiled.Count == 0));

    private static IEnumerable<KeyValuePair<string, string>> CompiledOnly(IReadOnlyList<DepsLibrary> libraries, IReadOnlyList<KeyValuePair<string, string>> compiled) =>
        compiled.Where(p => !libraries.Any(l => l.Name == p.Key));

    /// <summary>The app's libraries and what they put in the app folder.</summary>
    private void AddAppPackages()
    {
        // A Native AOT app's deps.json is the build's: its runtime pack is the JIT runtime the app does not carry (the
        // compiled-in runtime is named below); its packages are compiled into the executable.
        foreach (DepsLibrary library in NuGetLibraries(_s.AppLibraries, _s.CompiledRuntimePacks))
        {
            string packagePath = library.PackagePath ?? $"{library.Name.ToLowerInvariant()}/{library.Version.ToLowerInvariant()}";
            var package = new SbomPackage
            {
                Id = _names.Unique($"SPDXRef-Package-nuget-{SpdxNames.IdPart(library.Name)}-{SpdxNames.IdPart(library.Version)}"),
                Name = library.Name,
                Version = library.Version,
                Purpose = library.Type == "runtimepack" ? "FRAMEWORK" : "LIBRARY",
                Purl = $"pkg:nuget/{SpdxNames.Encode(library.Name)}@{SpdxNames.Encode(library.Version)}",
                License = Nuspec(packagePath, library.Name),
                PackageFile = _s.PackageFiles?.Find(library.Name, library.Version, library.PackagePath),
                ContentHash = library.ContentHash,
                Comment = library.Type == "runtimepack" ? "the .NET runtime of a self-contained app (its runtime pack), from deps.json"
                    : _s.CompiledRuntimePacks.Count > 0 ? "a NuGet package compiled into the app (Native AOT), from the build's deps.json"
                    : "a NuGet package of the app, from deps.json",
                AppDependency = true,
            };
            Packages.Add(package);
            foreach (string file in library.Files)
            {
                _byAppFile.TryAdd(file, package);
            }
        }
    }

    private void AddCompiledRuntimePacks()
    {
        foreach ((string id, string version) in CompiledOnly(_s.AppLibraries, _s.CompiledRuntimePacks))
        {
            Packages.Add(new SbomPackage
            {
                Id = _names.Unique($"SPDXRef-Package-nuget-{SpdxNames.IdPart(id)}-{SpdxNames.IdPart(version)}"),
                Name = id,
                Version = version,
                Purpose = "FRAMEWORK",
                Purl = $"pkg:nuget/{SpdxNames.Encode(id)}@{SpdxNames.Encode(version)}",
                License = Nuspec($"{id.ToLowerInvariant()}/{version.ToLowerInvariant()}", id),
                PackageFile = _s.PackageFiles?.Find(id, version, null),
                Comment = "the .NET runtime compiled into the app's executable (Native AOT)",
                AppDependency = true,
            });
        }
    }

    /// <summary>The shared frameworks and the .NET host of a framework-dependent app.</summary>
    private void AddDotnetInstallation()
    {
        _frameworks = _s.Frameworks.Select(f => (f.Directory, Package: new SbomPackage
        {
            Id = _names.Unique($"SPDXRef-Package-dotnet-{SpdxNames.IdPart(f.Name)}-{SpdxNames.IdPart(f.Version)}"),
            Name = f.Name,
            Version = f.Version,
            Purpose = "FRAMEWORK",
            // The shared framework is the runtime pack's content: advisories name the pack (Microsoft.NETCore.App.Runtime.linux-x64).
            Purl = f.Name is "Microsoft.NETCore.App" or "Microsoft.AspNetCore.App"
                ? $"pkg:nuget/{f.Name}.Runtime.linux-{_s.RidArch}@{SpdxNames.Encode(f.Version)}"
                : $"pkg:nuget/{SpdxNames.Encode(f.Name)}@{SpdxNames.Encode(f.Version)}",
            Comment = "a .NET shared framework of a framework-dependent app, copied from the build machine's .NET",
            AppDependency = true,
        })).ToList();
        Packages.AddRange(_frameworks.Select(f => f.Package));
        _host = _s.Host is { } h ? new SbomPackage
        {
            Id = _names.Unique("SPDXRef-Package-dotnet-host"),
            Name = "dotnet-host",
            Version = h.Version,
            Comment = "the .NET host (dotnet) and host resolver (hostfxr) of a framework-dependent app, copied from the build machine's .NET",
            AppDependency = true,
        } : null;
        _hostPaths = _s.Host is { } hp ? hp.Paths.ToHashSet(StringComparer.Ordinal) : new(StringComparer.Ordinal);
        if (_host is not null)
        {
            Packages.Add(_host);
        }
    }

    /// <summary>Every regular file, by path, with the package that put it there.</summary>
    private void AddFiles()
    {
        foreach (RootfsEntry file in _s.Files.Where(f => f.Kind == RootfsEntryKind.File && f.Path != WellKnownPaths.SbomInContainer).OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            string fileId = "SPDXRef-File-" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(file.Path)))[..16].ToLowerInvariant();
            (SbomPackage? owner, string? comment) = OwnerOf(file);
            owner?.FileIds.Add(fileId);
            Files.Add(new ListedFile(file, fileId, owner, comment));
        }
    }

    /// <summary>The package that put a file there (null: none known), or a comment that says where it came from.</summary>
    private (SbomPackage? Owner, string? Comment) OwnerOf(RootfsEntry file)
    {
        string appPrefix = _s.AppDirectory.TrimEnd('/') + "/";
        FileOrigin origin = _s.Origin(file);
        if (origin == FileOrigin.Generated)
        {
            return (null, "generated by OciBundle.Sdk");
        }

        if (origin == FileOrigin.UserFile)
        {
            return (App, null);
        }

        if (origin == FileOrigin.App)
        {
            return (_byAppFile.GetValueOrDefault(file.Path[appPrefix.Length..]) ?? App, null);
        }

        if (origin == FileOrigin.DotnetInstallation)
        {
            // A shared framework's folder, else the host's files (the muxer, hostfxr, their notices).
            SbomPackage? owner = _frameworks.FirstOrDefault(f => file.Path.StartsWith(f.Directory + "/", StringComparison.Ordinal)).Package
                ?? (_hostPaths.Any(p => file.Path == p || file.Path.StartsWith(p + "/", StringComparison.Ordinal)) ? _host : null);
            return (owner, owner is null ? "from the .NET installation the app runs on" : null);
        }

        return DebOwnerOf(file);
    }

    /// <summary>A file of the sysroot: the Debian package its dpkg database says owns it.</summary>
    private (SbomPackage? Owner, string? Comment) DebOwnerOf(RootfsEntry file)
    {
        if (_s.Packages?.OwnerOf(file.Path) is { } listed && _s.Packages.Installed(listed) is not { } _)
        {
            return (null, $"from the sysroot; its package {listed} is not installed per the dpkg status (no version known)");
        }

        if (_s.Packages?.OwnerOf(file.Path) is { } owning && _s.Packages.Installed(owning) is { } deb)
        {
            string key = deb.Name + ":" + deb.Architecture;
            if (!_debs.TryGetValue(key, out SbomPackage? owner))
            {
                owner = Deb(deb);
                _debs[key] = owner;
            }

            return (owner, null);
        }

        return (null, _s.Packages is null
            ? "from the sysroot, which has no dpkg database: no package is known to own it"
            : "from the sysroot; no package of its dpkg database lists it");
    }

    private SbomPackage Deb(DpkgPackage deb)
    {
        string ns = _s.Os?.Id ?? "debian";
        // The purl's qualifiers in key order, as its spec has them: arch, distro, upstream.
        var qualifiers = new List<string> { "arch=" + SpdxNames.Encode(deb.Architecture) };
        if (_s.Os is { VersionId: { Length: > 0 } versionId })
        {
            qualifiers.Add("distro=" + SpdxNames.Encode($"{ns}-{versionId}"));
        }

        if (deb.SourceName != deb.Name || deb.SourceVersion != deb.Version)
        {
            qualifiers.Add("upstream=" + SpdxNames.Encode(deb.SourceVersion == deb.Version ? deb.SourceName : $"{deb.SourceName}@{deb.SourceVersion}"));
        }

        // Links followed as inside the sysroot (a copyright file linked to a sibling package's, as Debian does), never out of it.
        string? copyright = _s.Sysroot.RegularFile($"/usr/share/doc/{deb.Name}/copyright");
        return new SbomPackage
        {
            Id = _names.Unique($"SPDXRef-Package-deb-{SpdxNames.IdPart(deb.Name)}-{SpdxNames.IdPart(deb.Architecture)}"),
            Name = deb.Name,
            Version = deb.Version,
            Purl = $"pkg:deb/{SpdxNames.Encode(ns)}/{SpdxNames.Encode(deb.Name)}@{SpdxNames.Encode(deb.Version)}?" + string.Join("&", qualifiers),
            Supplier = deb.Maintainer is { } m ? "Organization: " + m.Replace(" <", " (", StringComparison.Ordinal).Replace(">", ")", StringComparison.Ordinal) : null,
            License = copyright is null ? NoAssertion : Licensed(copyright, DeclaredLicense.FromDebianCopyright),
            SourceInfo = $"built package from: {deb.SourceName} {deb.SourceVersion}",
            Comment = "a Debian package of the sysroot, from its dpkg database",
        };
    }

    private string Nuspec(string packagePath, string name)
    {
        // deps.json's path is relative to the package folder; one that leaves it (absolute, '..') is not followed.
        if (_s.NuGetPackageRoot is not { Length: > 0 } root || Path.IsPathRooted(packagePath) || packagePath.Split('/', '\\').Any(p => p is ".." or "."))
        {
            return NoAssertion;
        }

        string nuspec = Path.GetFullPath(Path.Combine(root, packagePath, name.ToLowerInvariant() + ".nuspec"));
        if (!nuspec.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal))
        {
            return NoAssertion;
        }

        _s.Inputs?.Path(nuspec);
        return Licensed(nuspec, DeclaredLicense.FromNuspec);
    }

    private string Licensed(string path, Func<string, string> read) => _s.Licenses is { } licenses ? licenses.Of(path, read) : read(path);
}
