using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace OciBundle.Dotnet;

/// <summary>One library of an app's <c>*.deps.json</c>: a NuGet package, the runtime pack, or a project.</summary>
/// <param name="Name">The package id or project name, as deps.json spells it (<c>Microsoft.Data.Sqlite</c>).</param>
/// <param name="Version">Its version (<c>8.0.0</c>).</param>
/// <param name="Type"><c>package</c>, <c>runtimepack</c> (its name without the <c>runtimepack.</c> prefix), <c>project</c>, or <c>reference</c>.</param>
/// <param name="ContentHash">
/// NuGet's <c>contentHash</c> of the package, as deps.json writes it (<c>sha512-</c> and base64): the SHA-512 of the
/// package without its signature file (the same as <c>.nupkg.metadata</c>'s), so not the hash of the signed
/// <c>.nupkg</c> file for a signed package; null when none.
/// </param>
/// <param name="PackagePath">Where the package lives under the NuGet package folder (<c>microsoft.data.sqlite/8.0.0</c>); null for projects.</param>
/// <param name="Files">The publish output's files it contributed, relative to the app folder (<c>Microsoft.Data.Sqlite.dll</c>, <c>de/X.resources.dll</c>).</param>
internal sealed record DepsLibrary(string Name, string Version, string Type, string? ContentHash, string? PackagePath, IReadOnlyList<string> Files);

/// <summary>
/// The libraries of an app's <c>*.deps.json</c>, which says which package each published file came from and the
/// very versions the app was built and is run with. This is what the .NET host reads and what scanners (Trivy,
/// Syft, Grype) read for NuGet packages; the SBOM reads it for the same.
/// </summary>
internal static class DepsJson
{
    /// <summary>The libraries of the runtime target, in the file's order; an unreadable file is an <see cref="InvalidDataException"/>.</summary>
    public static IReadOnlyList<DepsLibrary> Read(string path)
    {
        try
        {
            using var reader = new JsonTextReader(File.OpenText(path));
            return Libraries(JObject.Load(reader, new JsonLoadSettings { CommentHandling = CommentHandling.Ignore }));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException or InvalidCastException or FormatException)
        {
            // Not JSON, or JSON of another shape (a string where an object belongs): no JSON library type leaves this class.
            throw new InvalidDataException(e.Message, e);
        }
    }

    /// <summary>A package id as NuGet allows it, and a version: anything else is not trusted into a purl or a path.</summary>
    private static bool IsPackageId(string id) =>
        id.Length is > 0 and <= 256 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static bool IsVersion(string version) =>
        version.Length is > 0 and <= 128 && version.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '+');

    private static IReadOnlyList<DepsLibrary> Libraries(JObject root)
    {
        string? targetName = root["runtimeTarget"] is JObject runtimeTarget && runtimeTarget["name"] is JValue { Type: JTokenType.String } n ? (string)n! : null;
        var targets = root["targets"] as JObject;
        var target = (targetName is null ? null : targets?[targetName]) as JObject ?? targets?.Properties().Select(p => p.Value).OfType<JObject>().LastOrDefault();
        var libraries = root["libraries"] as JObject ?? new JObject();
        bool ridSpecific = targetName?.Contains('/') == true;
        var result = new List<DepsLibrary>();
        foreach (JProperty library in target?.Properties() ?? Enumerable.Empty<JProperty>())
        {
            int slash = library.Name.LastIndexOf('/');
            if (slash <= 0 || library.Value is not JObject assets)
            {
                continue;
            }

            string name = library.Name[..slash];
            string version = library.Name[(slash + 1)..];
            var info = libraries[library.Name] as JObject;
            string type = info?["type"] is JValue { Type: JTokenType.String } t ? (string)t! : "package";
            if (name.StartsWith("runtimepack.", StringComparison.Ordinal))
            {
                name = name["runtimepack.".Length..];
                type = "runtimepack";
            }

            var files = new List<string>();
            foreach (string group in new[] { "runtime", "native" })
            {
                foreach (JProperty asset in (assets[group] as JObject)?.Properties() ?? Enumerable.Empty<JProperty>())
                {
                    // Published flat into the app folder (a RID-specific app), or where it sits in the package otherwise.
                    files.Add(ridSpecific || type is "project" or "runtimepack" ? FileName(asset.Name) : asset.Name);
                    if (!ridSpecific)
                    {
                        files.Add(FileName(asset.Name));
                    }
                }
            }

            foreach (JProperty asset in (assets["runtimeTargets"] as JObject)?.Properties() ?? Enumerable.Empty<JProperty>())
            {
                files.Add(asset.Name);
            }

            foreach (JProperty asset in (assets["resources"] as JObject)?.Properties() ?? Enumerable.Empty<JProperty>())
            {
                if (asset.Value is JObject { } resource && resource["locale"] is JValue { Type: JTokenType.String } l && ((string)l!).Length > 0 && !((string)l!).Contains('/'))
                {
                    files.Add((string)l! + "/" + FileName(asset.Name));
                }
            }

            if (!IsPackageId(name) || !IsVersion(version))
            {
                continue; // a name no package or project can have: not listed, its files stay the app's
            }

            string? packagePath = info?["path"] is JValue { Type: JTokenType.String } p ? (string)p! : null;
            string? sha512 = info?["sha512"] is JValue { Type: JTokenType.String } h ? (string)h! : null;
            result.Add(new DepsLibrary(name, version, type, ContentHash(sha512), packagePath, files.Distinct(StringComparer.Ordinal).ToList()));
        }

        return result;
    }

    private static string FileName(string assetPath) => assetPath[(assetPath.LastIndexOf('/') + 1)..];

    /// <summary><c>sha512-&lt;base64&gt;</c> of 64 bytes, written again in canonical base64 (nothing else of the text passes); null for anything else.</summary>
    private static string? ContentHash(string? text)
    {
        if (text is null || !text.StartsWith("sha512-", StringComparison.Ordinal))
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[64];
        return Convert.TryFromBase64String(text["sha512-".Length..], bytes, out int written) && written == 64
            ? "sha512-" + Convert.ToBase64String(bytes)
            : null;
    }
}
