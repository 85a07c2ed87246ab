using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json;
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

/// <summary>
/// The bundle's SBOM, SPDX 2.3 JSON (<c>sbom.spdx.json</c> beside config.json, and <see cref="WellKnownPaths.SbomInContainer"/> in
/// rootfs): one package per Debian package that owns a file in rootfs, per .NET shared framework or runtime pack,
/// per NuGet package of the app's deps.json, the app, and the bundle itself; every regular file with its SHA-1 and
/// SHA-256 and the package that contains it. Deterministic: ordered by path and name, ids derived from names and
/// paths, the time from <c>SOURCE_DATE_EPOCH</c> and the namespace from the content, so the same inputs give the
/// same bytes and an app change changes only the app's entries (and the namespace).
/// </summary>
internal static class SpdxSbom
{
    private const string NoAssertion = DeclaredLicense.NoAssertion;
    private const string BundleId = "SPDXRef-Bundle";
    private const string AppId = "SPDXRef-App";
    private const string OsId = "SPDXRef-OperatingSystem";

    private sealed class Component
    {
        public required string Id { get; init; }
        public required string Name { get; init; }
        public string? Version { get; init; }
        public string? Purpose { get; init; }
        public string? Purl { get; init; }
        public string? Supplier { get; init; }
        public string License { get; init; } = NoAssertion;
        public string? SourceInfo { get; init; }

        /// <summary>The .nupkg file the checksum is of, and its SHA-512: only ever the hash of that very file.</summary>
        public (string FileName, string Sha512)? PackageFile { get; init; }

        /// <summary>NuGet's contentHash (the package without its signature), kept in an annotation: it is no checksum of a file SPDX knows.</summary>
        public string? ContentHash { get; init; }

        public string? Comment { get; init; }
        public bool AppDependency { get; init; }
        public List<string> FileIds { get; } = new();
    }

    public static byte[] Write(SbomSources s)
    {
        var components = new List<Component>();
        var ids = new HashSet<string>(StringComparer.Ordinal) { BundleId, AppId, OsId };
        string Unique(string id)
        {
            string candidate = id;
            for (int n = 2; !ids.Add(candidate); n++)
            {
                candidate = id + "-" + n.ToString(CultureInfo.InvariantCulture);
            }

            return candidate;
        }

        string appVersion = s.AppLibraries.FirstOrDefault(l => l.Type == "project" && l.Name == s.AppName)?.Version ?? NoAssertion;
        var app = new Component { Id = AppId, Name = s.AppName, Version = appVersion, Purpose = "APPLICATION", Comment = "the app: the publish output, less what its deps.json credits to packages" };

        // The app's libraries and what they put in the app folder.
        var byAppFile = new Dictionary<string, Component>(StringComparer.Ordinal);
        // A Native AOT app's deps.json is the build's: its runtime pack is the JIT runtime the app does not carry (the
        // compiled-in runtime is named below); its packages are compiled into the executable.
        foreach (DepsLibrary library in s.AppLibraries.Where(l => l.Type == "package" || (l.Type == "runtimepack" && s.CompiledRuntimePacks.Count == 0)))
        {
            string packagePath = library.PackagePath ?? $"{library.Name.ToLowerInvariant()}/{library.Version.ToLowerInvariant()}";
            var component = new Component
            {
                Id = Unique($"SPDXRef-Package-nuget-{IdPart(library.Name)}-{IdPart(library.Version)}"),
                Name = library.Name,
                Version = library.Version,
                Purpose = library.Type == "runtimepack" ? "FRAMEWORK" : "LIBRARY",
                Purl = $"pkg:nuget/{Encode(library.Name)}@{Encode(library.Version)}",
                License = Nuspec(s, packagePath, library.Name),
                PackageFile = s.PackageFiles?.Find(library.Name, library.Version, library.PackagePath),
                ContentHash = library.ContentHash,
                Comment = library.Type == "runtimepack" ? "the .NET runtime of a self-contained app (its runtime pack), from deps.json"
                    : s.CompiledRuntimePacks.Count > 0 ? "a NuGet package compiled into the app (Native AOT), from the build's deps.json"
                    : "a NuGet package of the app, from deps.json",
                AppDependency = true,
            };
            components.Add(component);
            foreach (string file in library.Files)
            {
                byAppFile.TryAdd(file, component);
            }
        }

        foreach ((string id, string version) in s.CompiledRuntimePacks.Where(p => !s.AppLibraries.Any(l => l.Name == p.Key)))
        {
            components.Add(new Component
            {
                Id = Unique($"SPDXRef-Package-nuget-{IdPart(id)}-{IdPart(version)}"),
                Name = id,
                Version = version,
                Purpose = "FRAMEWORK",
                Purl = $"pkg:nuget/{Encode(id)}@{Encode(version)}",
                License = Nuspec(s, $"{id.ToLowerInvariant()}/{version.ToLowerInvariant()}", id),
                PackageFile = s.PackageFiles?.Find(id, version, null),
                Comment = "the .NET runtime compiled into the app's executable (Native AOT)",
                AppDependency = true,
            });
        }

        var frameworks = s.Frameworks.Select(f => (f.Directory, Component: new Component
        {
            Id = Unique($"SPDXRef-Package-dotnet-{IdPart(f.Name)}-{IdPart(f.Version)}"),
            Name = f.Name,
            Version = f.Version,
            Purpose = "FRAMEWORK",
            // The shared framework is the runtime pack's content: advisories name the pack (Microsoft.NETCore.App.Runtime.linux-x64).
            Purl = f.Name is "Microsoft.NETCore.App" or "Microsoft.AspNetCore.App"
                ? $"pkg:nuget/{f.Name}.Runtime.linux-{s.RidArch}@{Encode(f.Version)}"
                : $"pkg:nuget/{Encode(f.Name)}@{Encode(f.Version)}",
            Comment = "a .NET shared framework of a framework-dependent app, copied from the build machine's .NET",
            AppDependency = true,
        })).ToList();
        components.AddRange(frameworks.Select(f => f.Component));
        Component? host = s.Host is { } h ? new Component
        {
            Id = Unique("SPDXRef-Package-dotnet-host"),
            Name = "dotnet-host",
            Version = h.Version,
            Comment = "the .NET host (dotnet) and host resolver (hostfxr) of a framework-dependent app, copied from the build machine's .NET",
            AppDependency = true,
        } : null;
        HashSet<string> hostPaths = s.Host is { } hp ? hp.Paths.ToHashSet(StringComparer.Ordinal) : new(StringComparer.Ordinal);
        if (host is not null)
        {
            components.Add(host);
        }

        // Every regular file, by path, with the package that put it there.
        var debs = new SortedDictionary<string, Component>(StringComparer.Ordinal);
        var files = new List<(RootfsEntry Entry, string Id, Component? Owner, string? Comment)>();
        string appPrefix = s.AppDirectory.TrimEnd('/') + "/";
        foreach (RootfsEntry file in s.Files.Where(f => f.Kind == RootfsEntryKind.File && f.Path != WellKnownPaths.SbomInContainer).OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            string fileId = "SPDXRef-File-" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(file.Path)))[..16].ToLowerInvariant();
            Component? owner = null;
            string? comment = null;
            FileOrigin origin = s.Origin(file);
            if (origin == FileOrigin.Generated)
            {
                comment = "generated by OciBundle.Sdk";
            }
            else if (origin == FileOrigin.UserFile)
            {
                owner = app;
            }
            else if (origin == FileOrigin.App)
            {
                owner = byAppFile.GetValueOrDefault(file.Path[appPrefix.Length..]) ?? app;
            }
            else if (origin == FileOrigin.DotnetInstallation)
            {
                // A shared framework's folder, else the host's files (the muxer, hostfxr, their notices).
                owner = frameworks.FirstOrDefault(f => file.Path.StartsWith(f.Directory + "/", StringComparison.Ordinal)).Component
                    ?? (hostPaths.Any(p => file.Path == p || file.Path.StartsWith(p + "/", StringComparison.Ordinal)) ? host : null);
                comment = owner is null ? "from the .NET installation the app runs on" : null;
            }
            else if (s.Packages?.OwnerOf(file.Path) is { } listed && s.Packages.Installed(listed) is not { } _)
            {
                comment = $"from the sysroot; its package {listed} is not installed per the dpkg status (no version known)";
            }
            else if (s.Packages?.OwnerOf(file.Path) is { } owning && s.Packages.Installed(owning) is { } deb)
            {
                string key = deb.Name + ":" + deb.Architecture;
                if (!debs.TryGetValue(key, out owner))
                {
                    owner = Deb(s, deb, Unique);
                    debs[key] = owner;
                }
            }
            else
            {
                comment = s.Packages is null
                    ? "from the sysroot, which has no dpkg database: no package is known to own it"
                    : "from the sysroot; no package of its dpkg database lists it";
            }

            owner?.FileIds.Add(fileId);
            files.Add((file, fileId, owner, comment));
        }

        components.AddRange(debs.Values);

        var builder = new StringBuilder();
        using (var writer = new StringWriter(builder, CultureInfo.InvariantCulture) { NewLine = "\n" })
        using (var json = new JsonTextWriter(writer) { Formatting = Formatting.Indented, Indentation = 2 })
        {
            void Field(string name, object? value)
            {
                if (value is not null)
                {
                    json.WritePropertyName(name);
                    json.WriteValue(value);
                }
            }

            json.WriteStartObject();
            Field("spdxVersion", "SPDX-2.3");
            Field("dataLicense", "CC0-1.0");
            Field("SPDXID", "SPDXRef-DOCUMENT");
            Field("name", s.AppName);
            Field("documentNamespace", "@NAMESPACE@");
            if (s.Packages is null)
            {
                Field("comment", "The sysroot has no dpkg database (var/lib/dpkg): the files taken from it are listed without a package.");
            }
            else if (!s.Packages.HasStatus)
            {
                Field("comment", "The sysroot's dpkg database has no status file (var/lib/dpkg/status): no package's version is known, so the files taken from it are listed without a package.");
            }

            json.WritePropertyName("creationInfo");
            json.WriteStartObject();
            string created = DateTimeOffset.FromUnixTimeSeconds(s.Epoch).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            Field("created", created);
            json.WritePropertyName("creators");
            json.WriteStartArray();
            json.WriteValue("Tool: OciBundle.Sdk-" + ToolVersion());
            json.WriteEndArray();
            json.WriteEndObject();

            json.WritePropertyName("packages");
            json.WriteStartArray();
            var bundle = new Component
            {
                Id = BundleId,
                Name = s.AppName,
                Version = appVersion,
                Purpose = "CONTAINER",
                Comment = "the OCI bundle and image of " + s.AppName + ", made by OciBundle.Sdk without a base image"
                    + (s.SysrootDigest is null ? "" : "; native libraries and data from the sysroot " + s.SysrootDigest),
            };
            WritePackage(json, bundle, created);
            WritePackage(json, app, created);
            if (s.Os is { } os)
            {
                WritePackage(json, new Component
                {
                    Id = OsId,
                    Name = os.Id,
                    Version = os.VersionId ?? NoAssertion,
                    Purpose = "OPERATING_SYSTEM",
                    Comment = "the distribution of the sysroot, from its os-release" + (os.PrettyName is null ? "" : ": " + os.PrettyName),
                    SourceInfo = s.SysrootDigest is null ? null : "the sysroot " + s.SysrootDigest + " (OciBundleSysrootDigest pins it)",
                }, created);
            }

            foreach (Component c in components)
            {
                WritePackage(json, c, created);
            }

            json.WriteEndArray();

            json.WritePropertyName("files");
            json.WriteStartArray();
            foreach ((RootfsEntry entry, string id, _, string? comment) in files)
            {
                FileDigest digest = s.Digests[entry.Path];
                json.WriteStartObject();
                Field("SPDXID", id);
                Field("fileName", entry.Path);
                json.WritePropertyName("checksums");
                json.WriteStartArray();
                foreach ((string algorithm, string value) in new[] { ("SHA1", digest.Sha1), ("SHA256", digest.Sha256) })
                {
                    json.WriteStartObject();
                    Field("algorithm", algorithm);
                    Field("checksumValue", value);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                Field("licenseConcluded", NoAssertion);
                Field("copyrightText", NoAssertion);
                Field("comment", comment);
                json.WriteEndObject();
            }

            json.WriteEndArray();

            json.WritePropertyName("relationships");
            json.WriteStartArray();
            void Relationship(string from, string type, string to)
            {
                json.WriteStartObject();
                Field("spdxElementId", from);
                Field("relationshipType", type);
                Field("relatedSpdxElement", to);
                json.WriteEndObject();
            }

            Relationship("SPDXRef-DOCUMENT", "DESCRIBES", BundleId);
            Relationship(BundleId, "CONTAINS", AppId);
            if (s.Os is not null)
            {
                Relationship(BundleId, "CONTAINS", OsId);
            }

            foreach (Component c in components)
            {
                Relationship(BundleId, "CONTAINS", c.Id);
            }

            foreach (Component c in components.Where(c => c.AppDependency))
            {
                Relationship(AppId, "DEPENDS_ON", c.Id);
            }

            foreach ((_, string id, Component? owner, _) in files)
            {
                Relationship(owner?.Id ?? BundleId, "CONTAINS", id);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        builder.Append('\n');

        // The namespace names this document and no other: derived from everything else in it, never a random GUID.
        string body = builder.ToString();
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(body));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50); // RFC 4122 name-based form (version 5 bits, variant bits)
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        var uuid = new Guid(hash.AsSpan(0, 16), bigEndian: true);
        string ns = $"https://spdx.org/spdxdocs/ocibundle-{IdPart(s.AppName)}-{uuid:D}";
        return new UTF8Encoding(false).GetBytes(body.Replace("\"@NAMESPACE@\"", JsonConvert.ToString(ns), StringComparison.Ordinal));
    }

    private static Component Deb(SbomSources s, DpkgPackage deb, Func<string, string> unique)
    {
        string ns = s.Os?.Id ?? "debian";
        var qualifiers = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["arch"] = deb.Architecture };
        if (s.Os is { VersionId: { Length: > 0 } versionId })
        {
            qualifiers["distro"] = $"{ns}-{versionId}";
        }

        if (deb.SourceName != deb.Name || deb.SourceVersion != deb.Version)
        {
            qualifiers["upstream"] = deb.SourceVersion == deb.Version ? deb.SourceName : $"{deb.SourceName}@{deb.SourceVersion}";
        }

        // Links followed as inside the sysroot (a copyright file linked to a sibling package's, as Debian does), never out of it.
        string? copyright = s.Sysroot.RegularFile($"/usr/share/doc/{deb.Name}/copyright");
        return new Component
        {
            Id = unique($"SPDXRef-Package-deb-{IdPart(deb.Name)}-{IdPart(deb.Architecture)}"),
            Name = deb.Name,
            Version = deb.Version,
            Purl = $"pkg:deb/{Encode(ns)}/{Encode(deb.Name)}@{Encode(deb.Version)}?" + string.Join("&", qualifiers.Select(q => q.Key + "=" + Encode(q.Value))),
            Supplier = deb.Maintainer is { } m ? "Organization: " + m.Replace(" <", " (", StringComparison.Ordinal).Replace(">", ")", StringComparison.Ordinal) : null,
            License = copyright is null ? NoAssertion : DeclaredLicense.FromDebianCopyright(copyright),
            SourceInfo = $"built package from: {deb.SourceName} {deb.SourceVersion}",
            Comment = "a Debian package of the sysroot, from its dpkg database",
        };
    }

    private static string Nuspec(SbomSources s, string packagePath, string name)
    {
        // deps.json's path is relative to the package folder; one that leaves it (absolute, '..') is not followed.
        if (s.NuGetPackageRoot is not { Length: > 0 } root || Path.IsPathRooted(packagePath) || packagePath.Split('/', '\\').Any(p => p is ".." or "."))
        {
            return NoAssertion;
        }

        string nuspec = Path.GetFullPath(Path.Combine(root, packagePath, name.ToLowerInvariant() + ".nuspec"));
        if (!nuspec.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal))
        {
            return NoAssertion;
        }

        s.Inputs?.Path(nuspec);
        return DeclaredLicense.FromNuspec(nuspec);
    }

    private static void WritePackage(JsonTextWriter json, Component c, string created)
    {
        json.WriteStartObject();
        json.WritePropertyName("SPDXID");
        json.WriteValue(c.Id);
        json.WritePropertyName("name");
        json.WriteValue(c.Name);
        if (c.Version is not null)
        {
            json.WritePropertyName("versionInfo");
            json.WriteValue(c.Version);
        }

        if (c.Supplier is not null)
        {
            json.WritePropertyName("supplier");
            json.WriteValue(c.Supplier);
        }

        if (c.PackageFile is { } file)
        {
            json.WritePropertyName("packageFileName");
            json.WriteValue(file.FileName);
        }

        json.WritePropertyName("downloadLocation");
        json.WriteValue(NoAssertion);
        json.WritePropertyName("filesAnalyzed");
        json.WriteValue(false);
        if (c.PackageFile is { } hashed)
        {
            json.WritePropertyName("checksums");
            json.WriteStartArray();
            json.WriteStartObject();
            json.WritePropertyName("algorithm");
            json.WriteValue("SHA512");
            json.WritePropertyName("checksumValue");
            json.WriteValue(hashed.Sha512);
            json.WriteEndObject();
            json.WriteEndArray();
        }

        if (c.SourceInfo is not null)
        {
            json.WritePropertyName("sourceInfo");
            json.WriteValue(c.SourceInfo);
        }

        json.WritePropertyName("licenseConcluded");
        json.WriteValue(NoAssertion);
        json.WritePropertyName("licenseDeclared");
        json.WriteValue(c.License);
        json.WritePropertyName("copyrightText");
        json.WriteValue(NoAssertion);
        if (c.Comment is not null)
        {
            json.WritePropertyName("comment");
            json.WriteValue(c.Comment);
        }

        if (c.Purl is not null)
        {
            json.WritePropertyName("externalRefs");
            json.WriteStartArray();
            json.WriteStartObject();
            json.WritePropertyName("referenceCategory");
            json.WriteValue("PACKAGE-MANAGER");
            json.WritePropertyName("referenceType");
            json.WriteValue("purl");
            json.WritePropertyName("referenceLocator");
            json.WriteValue(c.Purl);
            json.WriteEndObject();
            json.WriteEndArray();
        }

        if (c.Purpose is not null)
        {
            json.WritePropertyName("primaryPackagePurpose");
            json.WriteValue(c.Purpose);
        }

        if (c.ContentHash is not null)
        {
            json.WritePropertyName("annotations");
            json.WriteStartArray();
            json.WriteStartObject();
            json.WritePropertyName("annotationDate");
            json.WriteValue(created);
            json.WritePropertyName("annotationType");
            json.WriteValue("OTHER");
            json.WritePropertyName("annotator");
            json.WriteValue("Tool: OciBundle.Sdk-" + ToolVersion());
            json.WritePropertyName("comment");
            json.WriteValue($"NuGet contentHash: {c.ContentHash} (from deps.json, as NuGet's .nupkg.metadata records it: the SHA-512 of the package without its signature file, so not the checksum of the signed .nupkg; that is in checksums when the package file was in the NuGet package folder)");
            json.WriteEndObject();
            json.WriteEndArray();
        }

        json.WriteEndObject();
    }

    /// <summary>An SPDX id part: letters, digits, '.' and '-' only.</summary>
    private static string IdPart(string text)
    {
        var b = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            b.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '-');
        }

        return b.ToString();
    }

    /// <summary>Percent-encodes a purl component: all but unreserved characters and ':' (the purl specification's rule).</summary>
    private static string Encode(string text)
    {
        var b = new StringBuilder(text.Length);
        foreach (byte c in Encoding.UTF8.GetBytes(text))
        {
            if (c < 0x80 && (char.IsAsciiLetterOrDigit((char)c) || c is (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~' or (byte)':'))
            {
                b.Append((char)c);
            }
            else
            {
                b.Append('%').Append(c.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return b.ToString();
    }

    private static string ToolVersion()
    {
        string? version = typeof(SpdxSbom).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion;
        return (version ?? "0.0.0").Split('+')[0];
    }
}
