using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Dotnet;
using OciBundle.Images;
using OciBundle.Model;
using OciBundle.Rootfs;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>Issue 31: the app folder's layers by how often they change, decided by its deps.json.</summary>
[TestClass]
public sealed class ImageLayeringTests
{
    /// <summary>A RID-specific app's deps.json: the app (with a German satellite), EF Core, SQLite's native library, Newtonsoft.Json and a project reference.</summary>
    private const string Deps = """
        {
          "runtimeTarget": { "name": ".NETCoreApp,Version=v10.0/linux-x64", "signature": "" },
          "targets": {
            ".NETCoreApp,Version=v10.0": {},
            ".NETCoreApp,Version=v10.0/linux-x64": {
              "Shop/1.0.0": {
                "dependencies": { "Microsoft.EntityFrameworkCore": "10.0.15", "Shop.Data": "1.0.0" },
                "runtime": { "Shop.dll": {} },
                "resources": { "de/Shop.resources.dll": { "locale": "de" } }
              },
              "Microsoft.EntityFrameworkCore/10.0.15": { "runtime": { "lib/net10.0/Microsoft.EntityFrameworkCore.dll": { "assemblyVersion": "10.0.15.0" } } },
              "Microsoft.EntityFrameworkCore.Sqlite/10.0.15": { "runtime": { "lib/net10.0/Microsoft.EntityFrameworkCore.Sqlite.dll": {} } },
              "SQLitePCLRaw.lib.e_sqlite3/2.1.11": { "native": { "runtimes/linux-x64/native/libe_sqlite3.so": { "fileVersion": "0.0.0.0" } } },
              "Newtonsoft.Json/13.0.3": { "runtime": { "lib/net6.0/Newtonsoft.Json.dll": {} } },
              "Shop.Data/1.0.0": { "runtime": { "Shop.Data.dll": {} } }
            }
          },
          "libraries": {
            "Shop/1.0.0": { "type": "project", "serviceable": false, "sha512": "" },
            "Microsoft.EntityFrameworkCore/10.0.15": { "type": "package", "serviceable": true, "sha512": "", "path": "microsoft.entityframeworkcore/10.0.15" },
            "Microsoft.EntityFrameworkCore.Sqlite/10.0.15": { "type": "package", "serviceable": true, "sha512": "", "path": "microsoft.entityframeworkcore.sqlite/10.0.15" },
            "SQLitePCLRaw.lib.e_sqlite3/2.1.11": { "type": "package", "serviceable": true, "sha512": "", "path": "sqlitepclraw.lib.e_sqlite3/2.1.11" },
            "Newtonsoft.Json/13.0.3": { "type": "package", "serviceable": true, "sha512": "", "path": "newtonsoft.json/13.0.3" },
            "Shop.Data/1.0.0": { "type": "project", "serviceable": false, "sha512": "" }
          }
        }
        """;

    private static readonly string[] PublishedFiles =
    {
        "Shop", "Shop.dll", "Shop.pdb", "Shop.deps.json", "Shop.runtimeconfig.json", "de/Shop.resources.dll",
        "Microsoft.EntityFrameworkCore.dll", "Microsoft.EntityFrameworkCore.Sqlite.dll", "libe_sqlite3.so", "Newtonsoft.Json.dll",
        "Shop.Data.dll", "Shop.Data.pdb", "appsettings.json", "wwwroot/index.html", "wwwroot/css/site.css",
        "System.Private.CoreLib.dll",
    };

    /// <summary>The publish folder on disk (each file's text its name, unless given), its deps.json written as <see cref="Deps"/> unless told.</summary>
    private static string Publish(TempDirectory dir, string deps = Deps, IEnumerable<string>? files = null, string name = "src")
    {
        string src = dir.Combine(name);
        foreach (string file in files ?? PublishedFiles)
        {
            string path = Path.Combine(src, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, file == "Shop.deps.json" ? deps : file + " v1");
        }

        return src;
    }

    private static RootfsPlan Plan(string src)
    {
        var plan = new RootfsPlan();
        HostTree.Add(plan, src, "/app", "publish output");
        plan.AddContent("/etc/passwd", "root:x:0:0::/root:/sbin/nologin\n"u8.ToArray(), (UnixFileMode)420, "accounts");
        plan.AddContent("/usr/share/dotnet/dotnet", "host"u8.ToArray(), (UnixFileMode)493, "the .NET host");
        return plan;
    }

    private static ImageRequest Request(string dir, string src, ImageLayering layering = ImageLayering.ByChangeRate)
    {
        string deps = Path.Combine(src, "Shop.deps.json");
        return new ImageRequest
        {
            Directory = dir,
            Tag = "1.0",
            Name = "localhost/shop:1.0",
            ArchivePath = null,
            Architecture = "amd64",
            WorkingDirectory = "/app",
            User = "1654:1654",
            Entrypoint = new[] { "/app/Shop" },
            Environment = Array.Empty<KeyValuePair<string, string>>(),
            RuntimeFiles = new HashSet<string> { "/app/System.Private.CoreLib.dll" },
            Labels = new Dictionary<string, string>(),
            ExposedPorts = Array.Empty<string>(),
            Epoch = 1700000000,
            Layering = layering,
            AppLibraries = File.Exists(deps) ? DepsJson.Read(deps) : Array.Empty<DepsLibrary>(),
            AppName = "Shop",
            AppHost = "Shop",
        };
    }

    private static Dictionary<string, string[]> FilesByLayer(List<(string Name, List<RootfsEntry> Entries)> layers) =>
        layers.ToDictionary(l => l.Name, l => l.Entries.Where(e => e.Kind != RootfsEntryKind.Directory).Select(e => e.Path).ToArray());

    private static string Group(string packageId) => AppLayers.Names[AppLayers.FirstPackageGroup + AppLayers.PackageGroup(packageId)];

    [TestMethod]
    public void PackagesProjectReferencesContentAndTheAppsOwnFilesGoToLayersOfTheirOwnByDepsJson()
    {
        using var dir = new TempDirectory();
        string src = Publish(dir);
        var layers = ImageLayoutWriter.Split(Plan(src), Request(dir.Combine("img"), src));
        Dictionary<string, string[]> files = FilesByLayer(layers);

        CollectionAssert.AreEqual(new[] { "/etc/passwd" }, files["system libraries and data"]);
        CollectionAssert.AreEquivalent(new[] { "/usr/share/dotnet/dotnet", "/app/System.Private.CoreLib.dll" }, files[".NET runtime"]);
        CollectionAssert.AreEquivalent(new[] { "/app/Shop", "/app/Shop.dll", "/app/Shop.pdb", "/app/Shop.deps.json", "/app/Shop.runtimeconfig.json", "/app/de/Shop.resources.dll" }, files["app"]);
        CollectionAssert.AreEquivalent(new[] { "/app/Shop.Data.dll", "/app/Shop.Data.pdb" }, files["project references"]);
        CollectionAssert.AreEquivalent(new[] { "/app/appsettings.json", "/app/wwwroot/index.html", "/app/wwwroot/css/site.css" }, files["content (static web assets and other files)"]);

        // EF Core and its SQLite provider are one family, so one group; every package file is in its group's layer.
        Assert.AreEqual(Group("Microsoft.EntityFrameworkCore"), Group("Microsoft.EntityFrameworkCore.Sqlite"));
        var packageFiles = layers.Where(l => l.Name.StartsWith("NuGet packages", StringComparison.Ordinal)).SelectMany(l => l.Entries.Where(e => e.Kind == RootfsEntryKind.File).Select(e => (l.Name, e.Path))).ToList();
        CollectionAssert.AreEquivalent(
            new[]
            {
                (Group("Microsoft.EntityFrameworkCore"), "/app/Microsoft.EntityFrameworkCore.dll"),
                (Group("Microsoft.EntityFrameworkCore.Sqlite"), "/app/Microsoft.EntityFrameworkCore.Sqlite.dll"),
                (Group("SQLitePCLRaw.lib.e_sqlite3"), "/app/libe_sqlite3.so"),
                (Group("Newtonsoft.Json"), "/app/Newtonsoft.Json.dll"),
            },
            packageFiles);

        // The order is fixed: system, runtime, package groups by number, project references, content, app; each layer carries /app itself.
        CollectionAssert.AreEqual(AppLayers.Names.Where(files.ContainsKey).ToArray(), layers.Select(l => l.Name).ToArray());
        Assert.AreEqual("app", layers[^1].Name);
        Assert.IsTrue(layers.Where(l => l.Entries.Any(e => e.Path.StartsWith("/app/", StringComparison.Ordinal))).All(l => l.Entries.Any(e => e.Path == "/app" && e.Kind == RootfsEntryKind.Directory)));
        Assert.IsTrue(layers.Count <= 12, "well under registries' limits");
    }

    [TestMethod]
    public void ThePackageGroupIsAFixedHashOfThePackagesFamilyAndNothingElse()
    {
        // Pinned: a change of the rule moves every package of every user's image, so it must be seen.
        Assert.AreEqual(AppLayers.PackageGroup("microsoft.entityframeworkcore"), AppLayers.PackageGroup("Microsoft.EntityFrameworkCore.Relational"));
        Assert.AreEqual(AppLayers.PackageGroup("SQLitePCLRaw.lib"), AppLayers.PackageGroup("sqlitepclraw.lib.e_sqlite3"));
        Assert.AreEqual(AppLayers.PackageGroup("Serilog"), AppLayers.PackageGroup("serilog"));
        int[] groups = new[] { "Microsoft.EntityFrameworkCore", "Microsoft.Data.Sqlite", "SQLitePCLRaw.core", "Newtonsoft.Json", "Serilog" }.Select(AppLayers.PackageGroup).ToArray();
        CollectionAssert.AreEqual(PinnedGroups, groups, string.Join(",", groups));
        Assert.IsTrue(groups.All(g => g is >= 0 and < AppLayers.PackageGroups));
        Assert.AreEqual(AppLayers.PackageGroups + 5, AppLayers.Names.Count, "system, runtime, the groups, project references, content, app: 11 at most");
    }

    private static readonly int[] PinnedGroups = { 0, 1, 3, 3, 0 };

    [TestMethod]
    public void TheSameInputsGiveTheSameLayersAndAnAppChangeChangesOnlyTheAppLayer()
    {
        using var dir = new TempDirectory();
        string src = Publish(dir);
        ImageResult first = ImageLayoutWriter.Write(Plan(src), Request(dir.Combine("img1"), src));
        ImageResult second = ImageLayoutWriter.Write(Plan(src), Request(dir.Combine("img2"), src));
        Assert.AreEqual(first.ManifestDigest, second.ManifestDigest);
        CollectionAssert.AreEqual(first.Layers.ToArray(), second.Layers.ToArray());

        // A copy of the publish folder made in another order gives the same bytes.
        string copy = Publish(dir, files: PublishedFiles.Reverse(), name: "copy");
        Assert.AreEqual(first.ManifestDigest, ImageLayoutWriter.Write(Plan(copy), Request(dir.Combine("img3"), copy)).ManifestDigest);

        File.WriteAllText(Path.Combine(src, "Shop.dll"), "Shop.dll v2, one line changed");
        ImageResult changed = ImageLayoutWriter.Write(Plan(src), Request(dir.Combine("img4"), src));
        string[] differ = first.Layers.Zip(changed.Layers).Where(p => p.First.Digest != p.Second.Digest).Select(p => p.Second.Name).ToArray();
        CollectionAssert.AreEqual(new[] { "app" }, differ);
    }

    [TestMethod]
    public void EmptyLayersAreLeftOutAndAnAppWithoutDepsJsonIsTheAppsAndContent()
    {
        using var dir = new TempDirectory();
        string plain = Publish(dir, deps: """{ "runtimeTarget": { "name": ".NETCoreApp,Version=v10.0" }, "targets": { ".NETCoreApp,Version=v10.0": { "Shop/1.0.0": { "runtime": { "Shop.dll": {} } } } }, "libraries": { "Shop/1.0.0": { "type": "project" } } }""",
            files: new[] { "Shop", "Shop.dll", "Shop.deps.json", "Shop.runtimeconfig.json", "Shop.pdb" }, name: "plain");
        var layers = ImageLayoutWriter.Split(Plan(plain), Request(dir.Combine("img"), plain));
        CollectionAssert.AreEqual(new[] { "system libraries and data", ".NET runtime", "app" }, layers.Select(l => l.Name).ToArray());

        // Single-file or Native AOT: no deps.json in the folder, no packages; the program and its symbols are the app's, a native library left beside it is content.
        string single = Publish(dir, files: new[] { "Shop", "Shop.pdb", "libe_sqlite3.so" }, name: "single");
        Dictionary<string, string[]> files = FilesByLayer(ImageLayoutWriter.Split(Plan(single), Request(dir.Combine("img2"), single)));
        CollectionAssert.AreEqual(new[] { "system libraries and data", ".NET runtime", "content (static web assets and other files)", "app" }, files.Keys.ToArray());
        CollectionAssert.AreEquivalent(new[] { "/app/Shop", "/app/Shop.pdb" }, files["app"]);
        CollectionAssert.AreEqual(new[] { "/app/libe_sqlite3.so" }, files["content (static web assets and other files)"]);
    }

    [TestMethod]
    public void SingleAppLayerIsTheThreeLayerImage()
    {
        using var dir = new TempDirectory();
        string src = Publish(dir);
        var layers = ImageLayoutWriter.Split(Plan(src), Request(dir.Combine("img"), src, ImageLayering.SingleAppLayer));
        CollectionAssert.AreEqual(new[] { "system libraries and data", ".NET runtime", "app" }, layers.Select(l => l.Name).ToArray());
        Assert.AreEqual(PublishedFiles.Length - 1, layers[2].Entries.Count(e => e.Kind == RootfsEntryKind.File), "every app file but the runtime's");
    }

    [TestMethod]
    public void OciImageLayeringTakesItsTwoValuesInAnyCaseAndAnyOtherIsOcib1670()
    {
        // The fixture: system, content (libSystem.Native.so, which its deps.json does not claim) and app; or system and app.
        foreach ((string value, string layers) in new[] { ("ByChangeRate", "3 layers"), ("singleapplayer", "2 layers") })
        {
            using var ok = new SafetyTests.Fixture();
            string image = Path.Combine(ok.Root, "proj", "bin", "oci-image");
            ok.Publish(t => { t.ImageDirectory = image; t.ImageLayering = value; });
            string summary = ok.Engine.Messages.Select(m => m.Message!).First(m => m.Contains("(OCI image", StringComparison.Ordinal));
            StringAssert.Contains(summary, layers, value);
            StringAssert.Contains(summary, "push it with: skopeo copy", "no registry: how to push by hand");
        }

        // With OciImageRegistry set, the push that follows the image is named, not a command to push by hand.
        using var pushed = new SafetyTests.Fixture();
        pushed.Publish(t => { t.ImageDirectory = Path.Combine(pushed.Root, "proj", "bin", "oci-image"); t.ImageRegistry = "registry.example:5000"; });
        string line = pushed.Engine.Messages.Select(m => m.Message!).First(m => m.Contains("(OCI image", StringComparison.Ordinal));
        StringAssert.Contains(line, "pushed next to registry.example:5000 (OciImageRegistry)");
        Assert.IsFalse(line.Contains("skopeo", StringComparison.Ordinal), line);

        using var f = new SafetyTests.Fixture();
        string dir = Path.Combine(f.Root, "proj", "bin", "oci-image");
        CollectionAssert.AreEqual(new[] { "OCIB1670" }, f.Fail(t => { t.ImageDirectory = dir; t.ImageLayering = "Layers"; }));
        string message = f.Engine.Errors.Single().Message!;
        StringAssert.Contains(message, "OciImageLayering is 'Layers'");
        StringAssert.Contains(message, "ByChangeRate");
        StringAssert.Contains(message, "SingleAppLayer");
    }

    [TestMethod]
    public void ThePublishReadsDepsJsonForTheLayersWithOrWithoutTheSbomAndTheBundleIsTheSame()
    {
        // The fixture's libSystem.Native.so, claimed by a package in its deps.json: that package's group, with or without an SBOM.
        const string deps = """
            { "runtimeTarget": { "name": ".NETCoreApp,Version=v10.0/linux-x64" },
              "targets": { ".NETCoreApp,Version=v10.0/linux-x64": {
                "Hello/1.0.0": { "runtime": { "Hello.dll": {} } },
                "Native.Shim/1.2.3": { "native": { "runtimes/linux-x64/native/libSystem.Native.so": {} } } } },
              "libraries": { "Hello/1.0.0": { "type": "project" }, "Native.Shim/1.2.3": { "type": "package", "sha512": "", "path": "native.shim/1.2.3" } } }
            """;
        string group = AppLayers.Names[AppLayers.FirstPackageGroup + AppLayers.PackageGroup("Native.Shim")];
        string? bundleFiles = null;
        foreach (bool sbom in new[] { true, false })
        {
            using var f = new SafetyTests.Fixture();
            File.WriteAllText(Path.Combine(f.PublishDir, "Hello.deps.json"), deps);
            string image = Path.Combine(f.Root, "proj", "bin", "oci-image");
            f.Publish(t => { t.ImageDirectory = image; t.Sbom = sbom; t.WriteBundle = true; });
            string manifestDigest = (string)JObject.Parse(File.ReadAllText(Path.Combine(image, "index.json")))["manifests"]![0]!["digest"]!;
            JObject manifest = JObject.Parse(File.ReadAllText(Path.Combine(image, "blobs", "sha256", manifestDigest[7..])));
            JObject config = JObject.Parse(File.ReadAllText(Path.Combine(image, "blobs", "sha256", ((string)manifest["config"]!["digest"]!)[7..])));
            CollectionAssert.AreEqual(
                new[] { "OciBundle.Sdk: system libraries and data", "OciBundle.Sdk: " + group, "OciBundle.Sdk: app" },
                config["history"]!.Select(h => (string)h["created_by"]!).ToArray(), $"sbom={sbom}");

            // One root file system: the bundle's files are every layer's, whatever the split.
            string files = string.Join("\n", Directory.EnumerateFiles(Path.Combine(f.Bundle, "rootfs"), "*", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(f.Bundle, p)).Where(p => !p.EndsWith("sbom.spdx.json", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
            StringAssert.Contains(files, "libSystem.Native.so");
            Assert.AreEqual(bundleFiles ?? files, files);
            bundleFiles = files;
        }
    }
}
