using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using OciBundle.Dotnet;
using OciBundle.Model;

namespace OciBundle.Images;

/// <summary>
/// The image's layers by how often their files change (<c>OciImageLayering=ByChangeRate</c>): the system libraries
/// and data, the .NET runtime, the NuGet packages in <see cref="PackageGroups"/> fixed groups, the project
/// references, the content, and the app's own files. Which app file goes where is read from the app's
/// <c>*.deps.json</c> (what each library contributed) and the publish items (the runtime pack's files, the app
/// host), never guessed from a file's name: a file no library claims is content. With <c>SingleAppLayer</c> the
/// whole app folder is the app layer. The order never changes, so the same inputs give the same layers.
/// </summary>
internal sealed class AppLayers
{
    /// <summary>How many groups the NuGet packages are spread over: an upgrade of one package re-sends one group.</summary>
    public const int PackageGroups = 6;

    public const int SystemLayer = 0;
    public const int RuntimeLayer = 1;
    public const int FirstPackageGroup = 2;
    public const int ProjectsLayer = FirstPackageGroup + PackageGroups;
    public const int ContentLayer = ProjectsLayer + 1;
    public const int AppLayer = ContentLayer + 1;

    private readonly Dictionary<string, int> _byPath = new(StringComparer.Ordinal);
    private readonly bool _split;

    private AppLayers(bool split) => _split = split;

    /// <summary>Every layer's name, by its index (the order in the manifest; empty layers are left out).</summary>
    public static IReadOnlyList<string> Names { get; } = LayerNames();

    // A loop, not Enumerable.Range: LINQ over ints is compiled on every publish (outside the task's precompiled code).
    private static string[] LayerNames()
    {
        var names = new List<string> { "system libraries and data", ".NET runtime" };
        for (int g = 1; g <= PackageGroups; g++)
        {
            names.Add($"NuGet packages, group {g} of {PackageGroups}");
        }

        names.AddRange(new[] { "project references", "content (static web assets and other files)", "app" });
        return names.ToArray();
    }

    /// <summary>
    /// The group of a package: the first four bytes (big-endian) of the SHA-256 of its family, modulo
    /// <see cref="PackageGroups"/>. The family is the lowercase id up to its second dot
    /// (<c>microsoft.entityframeworkcore</c> for <c>Microsoft.EntityFrameworkCore.Sqlite</c>), so the packages that
    /// are released together are upgraded together into one group; the group depends on nothing else, so adding or
    /// upgrading a package leaves every other package where it was.
    /// </summary>
    public static int PackageGroup(string packageId)
    {
        string id = packageId.ToLowerInvariant();
        int first = id.IndexOf('.');
        int second = first < 0 ? -1 : id.IndexOf('.', first + 1);
        string family = second < 0 ? id : id[..second];
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(family));
        return (int)(BinaryPrimitives.ReadUInt32BigEndian(hash) % PackageGroups);
    }

    /// <summary>
    /// The layers of the app folder's files: with <see cref="ImageLayering.SingleAppLayer"/>, all the app's; else
    /// each library's files (and the <c>.pdb</c> and <c>.xml</c> beside its assemblies) by its type in deps.json
    /// (a runtime pack's to the runtime),
    /// the app's own project and its host, deps.json, runtimeconfig.json and symbols to the app, the rest content.
    /// </summary>
    public static AppLayers Of(ImageLayering layering, IReadOnlyList<DepsLibrary> libraries, string appName, string? appHost)
    {
        var layers = new AppLayers(layering == ImageLayering.ByChangeRate);
        if (!layers._split)
        {
            return layers;
        }

        // The app's own first, then its project references, then packages: a path two libraries name is the first's.
        foreach (DepsLibrary library in libraries.Where(l => l.Type == "project" && l.Name == appName))
        {
            layers.Claim(library.Files, AppLayer);
        }

        var own = new List<string> { appName + ".dll", appName + ".deps.json", appName + ".runtimeconfig.json", appName + ".pdb" };
        if (appHost is not null)
        {
            own.Add(appHost);
        }

        layers.Claim(own, AppLayer);

        foreach (DepsLibrary library in libraries.Where(l => l.Type is "project" or "reference" && l.Name != appName))
        {
            layers.Claim(library.Files, ProjectsLayer);
        }

        foreach (DepsLibrary library in libraries.Where(l => l.Type == "runtimepack"))
        {
            layers.Claim(library.Files, RuntimeLayer); // a self-contained app's runtime, as its publish items say too
        }

        foreach (DepsLibrary library in libraries.Where(l => l.Type == "package"))
        {
            layers.Claim(library.Files, FirstPackageGroup + PackageGroup(library.Name));
        }

        return layers;
    }

    /// <summary>The layer of a file of the app folder, by its path relative to it (<c>de/X.resources.dll</c>).</summary>
    public int LayerOf(string relativePath) => !_split ? AppLayer : _byPath.TryGetValue(relativePath, out int layer) ? layer : ContentLayer;

    private void Claim(IEnumerable<string> files, int layer)
    {
        foreach (string file in files)
        {
            _byPath.TryAdd(file, layer);
            string extension = Path.GetExtension(file);
            if (extension is ".dll" or ".exe")
            {
                string stem = file[..^extension.Length];
                _byPath.TryAdd(stem + ".pdb", layer);
                _byPath.TryAdd(stem + ".xml", layer);
            }
        }
    }
}
