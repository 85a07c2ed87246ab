using Microsoft.Build.Framework;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Microsoft.Build.Utilities;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Images;
using OciBundle.Sysroots;
using OciBundle.Tasks;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// Issue 25, item 2, in the engine: <c>OciImageBase</c> names an OCI layout whose config has Env, labels and ports; the
/// image starts with its layer, byte for byte, its config merged as README says; the bundle holds the base's tree; a
/// base of another architecture is OCIB1650; the same inputs give the same manifest digest.
/// </summary>
[TestClass]
public sealed class BaseImageTests
{
    /// <summary>A base layout of one layer; <paramref name="addToTree"/> adds to its tree, <paramref name="containerConfig"/> and <paramref name="history"/> replace its config's.</summary>
    internal sealed class Fixture : IDisposable
    {
        private readonly TempDirectory _dir = new("ocibundle-base-");

        public Fixture(string architecture = "amd64", Action<string>? addToTree = null, string? containerConfig = null, string? history = null)
        {
            SafetyTests.Fixture.MakeApp(PublishDir);
            string tree = _dir.Combine("tree");
            SafetyTests.Fixture.MakeSysroot(tree);
            Directory.CreateDirectory(Path.Combine(tree, "etc"));
            File.WriteAllText(Path.Combine(tree, "etc", "base-marker"), "from the base\n");
            Directory.CreateDirectory(Path.Combine(tree, "var", "lib", "seed"));
            File.WriteAllText(Path.Combine(tree, "var", "lib", "seed", "state.txt"), "the base's data\n");
            File.CreateSymbolicLink(Path.Combine(tree, "var", "run"), "/run");
            addToTree?.Invoke(tree);
            string tar = _dir.Combine("base.tar");
            TarFile.CreateFromDirectory(tree, tar, includeBaseDirectory: false);
            BaseManifest = OciLayoutMaker.WithConfig(Layout, OciLayoutMaker.Write(Layout, new[] { tar }, architecture, tag: "1"),
                containerConfig ?? """{"User":"0:0","Env":["PATH=/usr/local/bin:/usr/bin:/bin","BASE_ONLY=1","DOTNET_RUNNING_IN_CONTAINER=false"],"WorkingDir":"/","Labels":{"team":"base","vendor":"base"},"ExposedPorts":{"22/tcp":{}}}""",
                history ?? """[{"created_by":"base layer"}]""");
        }

        public string Layout => _dir.Combine("base");

        public string Combine(params string[] parts) => _dir.Combine(parts);
        public string BaseManifest { get; }
        public string PublishDir => _dir.Combine("proj", "bin", "publish");
        public string Bundle => _dir.Combine("proj", "bin", "oci-bundle");
        public string Cache => _dir.Combine("cache");
        public FakeBuildEngine Engine { get; private set; } = new();

        public string[] Publish(string image, bool succeed = true, string? layout = null, string? volume = null, string? user = null, string? imageBase = null)
        {
            Engine = new FakeBuildEngine();
            BuildOciContainer task = TargetDefaults.Task();
            task.BuildEngine = Engine;
            task.PublishDirectory = PublishDir;
            task.BundleDirectory = Bundle;
            task.WriteBundle = true;
            task.ImageDirectory = image;
            task.ProjectDirectory = _dir.Combine("proj");
            task.AppName = "Hello";
            task.AppHost = "Hello";
            task.ImageRepository = TargetDefaults.RepositoryOf(task.AppName);
            task.Sysroot = layout ?? Layout;
            task.ImageBase = imageBase ?? layout ?? Layout;
            task.SysrootCache = Cache;
            task.StateFile = _dir.Combine("proj", "obj", "ocibundle.state");
            task.IncludeTimeZoneData = false;
            task.ImageLabels = new[] { new TaskItem("team", new Dictionary<string, string> { ["Value"] = "project" }) };
            task.ImagePorts = new[] { new TaskItem("8080/tcp") };
            task.User = user ?? task.User;
            task.Volumes = volume is null ? Array.Empty<ITaskItem>() : new ITaskItem[] { new TaskItem(volume) };
            Assert.AreEqual(succeed, task.Execute(), string.Join("\n", Engine.Errors.Select(e => $"{e.Code}: {e.Message}")));
            return Engine.Errors.Select(e => e.Code).ToArray();
        }

        public void Dispose() => _dir.Dispose();


    }

    internal static JObject Blob(string layout, string digest) => JObject.Parse(File.ReadAllText(Path.Combine(layout, "blobs", "sha256", digest[7..])));

    internal static string ManifestDigest(string layout) => (string)JObject.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))["manifests"]![0]!["digest"]!;

    /// <summary>The paths a gzip layer holds, as a tar names them.</summary>
    internal static List<string> LayerPaths(string layout, string digest)
    {
        using var gzip = new GZipStream(File.OpenRead(Path.Combine(layout, "blobs", "sha256", digest[7..])), CompressionMode.Decompress);
        using var reader = new TarReader(gzip);
        var paths = new List<string>();
        while (reader.GetNextEntry() is { } entry)
        {
            paths.Add("/" + entry.Name.TrimStart('.', '/').TrimEnd('/'));
        }

        return paths;
    }

    [TestMethod]
    public void TheImageStartsWithTheBasesLayerAndItsConfigIsMergedAsDocumented()
    {
        using var f = new Fixture();
        string image = Path.Combine(Path.GetDirectoryName(f.Bundle)!, "oci-image");
        f.Publish(image);

        JObject baseManifest = Blob(f.Layout, f.BaseManifest);
        JObject manifest = Blob(image, ManifestDigest(image));
        JToken baseLayer = baseManifest["layers"]![0]!;
        Assert.IsTrue(JToken.DeepEquals(baseLayer, manifest["layers"]![0]), $"first layer {manifest["layers"]![0]} is the base's {baseLayer}");
        Assert.AreEqual(OciLayoutMaker.DigestOfFile(Path.Combine(f.Layout, "blobs", "sha256", ((string)baseLayer["digest"]!)[7..])), OciLayoutMaker.DigestOfFile(Path.Combine(image, "blobs", "sha256", ((string)baseLayer["digest"]!)[7..])));
        Assert.AreEqual(f.BaseManifest, (string?)manifest["annotations"]!["org.opencontainers.image.base.digest"]);

        JObject config = Blob(image, (string)manifest["config"]!["digest"]!);
        JObject baseConfig = Blob(f.Layout, (string)baseManifest["config"]!["digest"]!);
        Assert.AreEqual((string)baseConfig["rootfs"]!["diff_ids"]![0]!, (string)config["rootfs"]!["diff_ids"]![0]!);
        Assert.AreEqual("base layer", (string?)config["history"]![0]!["created_by"]);
        Assert.AreEqual(manifest["layers"]!.Count(), config["history"]!.Count());
        string[] env = config["config"]!["Env"]!.Values<string>().OfType<string>().ToArray();
        CollectionAssert.AreEqual(new[] { "PATH=/usr/local/bin:/usr/bin:/bin", "BASE_ONLY=1", "DOTNET_RUNNING_IN_CONTAINER=true" }, env.Take(3).ToArray(), string.Join(" ", env));
        Assert.AreEqual("project", (string?)config["config"]!["Labels"]!["team"], "the project's label wins");
        Assert.AreEqual("base", (string?)config["config"]!["Labels"]!["vendor"], "the base's other labels stay");
        CollectionAssert.AreEqual(new[] { "22/tcp", "8080/tcp" }, ((JObject)config["config"]!["ExposedPorts"]!).Properties().Select(p => p.Name).ToArray());
        Assert.AreEqual("/app", (string?)config["config"]!["WorkingDir"], "the project's working folder");
        Assert.AreEqual("1654:1654", (string?)config["config"]!["User"], "the project's user");

        // The bundle is the base's tree with the same files on top; the image's own layers hold none of the base's files.
        Assert.AreEqual("from the base\n", File.ReadAllText(Path.Combine(f.Bundle, "rootfs", "etc", "base-marker")));
        Assert.AreEqual("usr/lib", new FileInfo(Path.Combine(f.Bundle, "rootfs", "lib")).LinkTarget);
        var own = manifest["layers"]!.Skip(1).SelectMany(l => LayerPaths(image, (string)l["digest"]!)).ToList();
        Assert.IsFalse(own.Any(p => p.StartsWith("/usr/lib/x86_64-linux-gnu/", StringComparison.Ordinal) || p == "/etc/base-marker" || p == "/lib"), string.Join("\n", own));
        Assert.IsTrue(own.Contains("/app/Hello"), string.Join("\n", own));
        CollectionAssert.AreEqual(new[] { "/lib", "/lib64", "/usr" }, LayerPaths(image, (string)baseLayer["digest"]!).Where(p => p.Count(c => c == '/') == 1 && p != "/etc" && p != "/var").Order(StringComparer.Ordinal).ToArray());

        // The same inputs, the same digest.
        string again = Path.Combine(Path.GetDirectoryName(f.Bundle)!, "oci-image-2");
        f.Publish(again);
        Assert.AreEqual(ManifestDigest(image), ManifestDigest(again));
    }

    [TestMethod]
    public void TheSameBaseElsewhereOnDiskGivesTheSameImage()
    {
        using var f = new Fixture();
        string image = Path.Combine(Path.GetDirectoryName(f.Bundle)!, "oci-image");
        f.Publish(image);
        string moved = f.Combine("somewhere", "much", "deeper", "base");
        Directory.CreateDirectory(Path.GetDirectoryName(moved)!);
        CopyTree(f.Layout, moved);
        string again = Path.Combine(Path.GetDirectoryName(f.Bundle)!, "oci-image-moved");
        f.Publish(again, layout: moved);

        JObject manifest = Blob(image, ManifestDigest(image));
        Assert.AreEqual("base", (string?)manifest["annotations"]!["org.opencontainers.image.base.name"], "named by its folder's name, not its path");
        Assert.AreEqual(ManifestDigest(image), ManifestDigest(again), "a base's place on the build machine is no input of the image");
    }

    [TestMethod]
    [DataRow("/var/run/myapp", "OCIB1613")]
    [DataRow("/var/lib/seed", "OCIB1612")]
    [DataRow("/var/lib/myapp", "")]
    public void AVolumeIsCheckedAgainstTheBasesTreeAsAgainstTheProductsFiles(string volume, string code)
    {
        using var f = new Fixture();
        string image = Path.Combine(Path.GetDirectoryName(f.Bundle)!, "oci-image");
        string[] codes = f.Publish(image, succeed: code.Length == 0, volume: volume);
        CollectionAssert.AreEqual(code.Length == 0 ? Array.Empty<string>() : new[] { code }, codes);
        if (code.Length == 0)
        {
            Assert.IsTrue(Directory.Exists(Path.Combine(f.Bundle, "rootfs", "var", "lib", "myapp")));
            Assert.AreEqual("/run", new FileInfo(Path.Combine(f.Bundle, "rootfs", "var", "run")).LinkTarget, "the base's link stays a link");
        }
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (string dir in Directory.GetDirectories(from))
        {
            CopyTree(dir, Path.Combine(to, Path.GetFileName(dir)));
        }
    }

    [TestMethod]
    public void ABaseOfAnotherArchitectureIsOCIB1650()
    {
        using var f = new Fixture("arm64");
        string[] codes = f.Publish(Path.Combine(Path.GetDirectoryName(f.Bundle)!, "oci-image"), succeed: false);
        CollectionAssert.Contains(codes, "OCIB1650");
    }

    [TestMethod]
    public void ThePlatformCheckNamesTheBasesPlatform()
    {
        BaseImage.CheckPlatform("x", "amd64", "linux", "amd64");
        BaseImage.CheckPlatform("x", "amd64", null, "");
        var e = Assert.ThrowsExactly<OciBundleException>(() => BaseImage.CheckPlatform("docker://r/base:1", "amd64", "linux", "arm64"));
        Assert.AreEqual("OCIB1650", e.Code);
        StringAssert.Contains(e.Message, "linux/arm64");
        Assert.AreEqual("OCIB1650", Assert.ThrowsExactly<OciBundleException>(() => BaseImage.CheckPlatform("x", "amd64", "windows", "amd64")).Code);
    }

    [TestMethod]
    public void LabelsAndPortsMergeWithTheProjectsWinning()
    {
        var labels = ImageConfigMerge.Labels(new Dictionary<string, string> { ["a"] = "base", ["b"] = "base" }, new Dictionary<string, string> { ["b"] = "project", ["c"] = "project" });
        CollectionAssert.AreEqual(new[] { "a=base", "b=project", "c=project" }, labels.Select(l => $"{l.Key}={l.Value}").ToArray());
        Assert.IsNull(ImageConfigMerge.Union(null, Array.Empty<string>()));
        CollectionAssert.AreEqual(new[] { "443/tcp", "80/tcp" }, ImageConfigMerge.Union(new[] { "80/tcp" }, new[] { "443/tcp", "80/tcp" })!.Keys.ToArray());
    }
}
