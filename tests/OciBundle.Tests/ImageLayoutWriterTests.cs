using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Images;
using OciBundle.Rootfs;
using OciBundle.Testing;
using OciBundle.Model;

namespace OciBundle.Tests;

[TestClass]
public sealed class ImageLayoutWriterTests
{
    private static RootfsPlan Plan(string src)
    {
        if (!Directory.Exists(src))
        {
            Directory.CreateDirectory(src);
            File.WriteAllText(Path.Combine(src, "App.dll"), "app v1");
            File.WriteAllText(Path.Combine(src, "System.Private.CoreLib.dll"), "runtime");
        }

        var plan = new RootfsPlan();
        HostTree.Add(plan, src, "/app", "publish output");
        plan.AddContent("/etc/passwd", "root:x:0:0::/root:/sbin/nologin\n"u8.ToArray(), (UnixFileMode)420, "accounts");
        plan.AddDirectory("/home/app", "home", owner: 1654);
        plan.AddSymlink("/lib", "usr/lib", "link");
        return plan;
    }

    private static ImageRequest Request(string dir) => new()
    {
        Directory = dir,
        Tag = TargetDefaults.Of("OciImageTag"),
        Name = "localhost/app:" + TargetDefaults.Of("OciImageTag"),
        ArchivePath = null,
        Architecture = "amd64",
        WorkingDirectory = "/app",
        User = "1654:1654",
        Entrypoint = new[] { "/app/App" },
        Environment = new[] { new KeyValuePair<string, string>("PATH", "/usr/bin") },
        RuntimeFiles = new HashSet<string> { "/app/System.Private.CoreLib.dll" },
        Labels = new Dictionary<string, string> { ["org.opencontainers.image.title"] = "App" },
        ExposedPorts = new[] { "8080/tcp" },
        Epoch = 1700000000,
        AppName = "App",
    };

    [TestMethod]
    public void TheIndexNamesTheImageForContainerdAndPodmanAndDefaultArgsAreCmd()
    {
        using var dir = new TempDirectory();
        string img = dir.Combine("img");
        ImageResult result = ImageLayoutWriter.Write(Plan(dir.Combine("src")), Request(img) with { Name = "registry.example.com/team/app:1.0", Tag = "1.0", DefaultArgs = new[] { "--port", "8080" } });

        JObject index = JObject.Parse(File.ReadAllText(Path.Combine(img, "index.json")));
        JToken annotations = index["manifests"]![0]!["annotations"]!;
        Assert.AreEqual("registry.example.com/team/app:1.0", (string)annotations["io.containerd.image.name"]!);
        Assert.AreEqual("1.0", (string)annotations["org.opencontainers.image.ref.name"]!, "ref.name stays the tag, which skopeo's oci:<dir>:<tag> looks up");

        JObject manifest = JObject.Parse(File.ReadAllText(Path.Combine(img, "blobs", "sha256", result.ManifestDigest[7..])));
        JObject config = JObject.Parse(File.ReadAllText(Path.Combine(img, "blobs", "sha256", ((string)manifest["config"]!["digest"]!)[7..])));
        CollectionAssert.AreEqual(new[] { "/app/App" }, config["config"]!["Entrypoint"]!.Values<string>().ToArray());
        CollectionAssert.AreEqual(new[] { "--port", "8080" }, config["config"]!["Cmd"]!.Values<string>().ToArray());

        // No default args: no Cmd at all (an empty one would still replace nothing, but engines print it).
        ImageLayoutWriter.Write(Plan(dir.Combine("src")), Request(dir.Combine("img2")));
        JObject index2 = JObject.Parse(File.ReadAllText(Path.Combine(dir.Combine("img2"), "index.json")));
        JObject manifest2 = JObject.Parse(File.ReadAllText(Path.Combine(dir.Combine("img2"), "blobs", "sha256", ((string)index2["manifests"]![0]!["digest"]!)[7..])));
        JObject config2 = JObject.Parse(File.ReadAllText(Path.Combine(dir.Combine("img2"), "blobs", "sha256", ((string)manifest2["config"]!["digest"]!)[7..])));
        Assert.IsNull(config2["config"]!["Cmd"]);
    }

    [TestMethod]
    public void LayersAreSystemThenRuntimeThenApp()
    {
        using var dir = new TempDirectory();
        var layers = ImageLayoutWriter.Split(Plan(dir.Combine("src")), Request(dir.Combine("img")));

        CollectionAssert.AreEqual(new[] { "system libraries and data", ".NET runtime", "app" }, layers.Select(l => l.Name).ToArray());
        CollectionAssert.AreEqual(new[] { "/etc", "/etc/passwd", "/home", "/home/app", "/lib" }, layers[0].Entries.Select(e => e.Path).ToArray());
        CollectionAssert.AreEqual(new[] { "/app", "/app/System.Private.CoreLib.dll" }, layers[1].Entries.Select(e => e.Path).ToArray());
        CollectionAssert.AreEqual(new[] { "/app", "/app/App.dll" }, layers[2].Entries.Select(e => e.Path).ToArray());
    }

    [TestMethod]
    public void EveryTarReaderReadsTheLayersNamesAsWritten()
    {
        // GNU tar's atime/ctime sit where POSIX readers look for a name prefix: with them set, Python's tarfile read
        // "/app/App.dll" as "14257157400/app/App.dll". Python's reader and GNU tar must both list the plan's paths.
        TestEnvironment.Require(File.Exists("/usr/bin/python3"), "Debian's python3 reads the layers as a POSIX tar reader");
        using var dir = new TempDirectory();
        ImageResult image = ImageLayoutWriter.Write(Plan(dir.Combine("src")), Request(dir.Combine("img")));
        foreach ((string name, string digest, _) in image.Layers)
        {
            string blob = dir.Combine("img", "blobs", "sha256", digest[7..]);
            ProcessResult python = TestEnvironment.RunCapture("/usr/bin/python3", "-c", "import sys, tarfile; print('\\n'.join(tarfile.open(sys.argv[1]).getnames()))", blob);
            ProcessResult gnu = TestEnvironment.RunCapture("tar", "-tzf", blob);
            Assert.AreEqual(0, python.ExitCode, python.All);
            string[] expected = gnu.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(n => n.TrimEnd('/')).ToArray();
            CollectionAssert.AreEqual(expected, python.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries), name);
            Assert.IsTrue(expected.All(n => n.StartsWith("app", StringComparison.Ordinal) || n.StartsWith("etc", StringComparison.Ordinal) || n.StartsWith("home", StringComparison.Ordinal) || n == "lib"), string.Join(" ", expected));
        }
    }

    [TestMethod]
    public void SameInputsGiveTheSameDigestAndAnAppChangeKeepsTheOtherLayers()
    {
        using var dir = new TempDirectory();
        ImageResult first = ImageLayoutWriter.Write(Plan(dir.Combine("src")), Request(dir.Combine("img1")));
        ImageResult again = ImageLayoutWriter.Write(Plan(dir.Combine("src")), Request(dir.Combine("img2")));
        Assert.AreEqual(first.ManifestDigest, again.ManifestDigest);

        File.WriteAllText(dir.Combine("src", "App.dll"), "app v2");
        ImageResult changed = ImageLayoutWriter.Write(Plan(dir.Combine("src")), Request(dir.Combine("img1")));
        Assert.AreNotEqual(first.ManifestDigest, changed.ManifestDigest);
        Assert.AreEqual(first.Layers[0].Digest, changed.Layers[0].Digest, "system layer kept");
        Assert.AreEqual(first.Layers[1].Digest, changed.Layers[1].Digest, "runtime layer kept");
        Assert.AreNotEqual(first.Layers[2].Digest, changed.Layers[2].Digest, "app layer re-shipped");
    }

    [TestMethod]
    public void IndexManifestAndConfigValidateAgainstTheImageSpec()
    {
        using var dir = new TempDirectory();
        string img = dir.Combine("img");
        ImageResult result = ImageLayoutWriter.Write(Plan(dir.Combine("src")), Request(img));

        Assert.AreEqual("", SchemaValidator.ValidateImage("image-index-schema.json", Path.Combine(img, "index.json")));
        Assert.AreEqual("", SchemaValidator.ValidateImage("image-layout-schema.json", Path.Combine(img, "oci-layout")));
        string manifest = Path.Combine(img, "blobs", "sha256", result.ManifestDigest[7..]);
        Assert.AreEqual("", SchemaValidator.ValidateImage("image-manifest-schema.json", manifest));
        var config = JObject.Parse(File.ReadAllText(manifest))["config"]!;
        string configPath = Path.Combine(img, "blobs", "sha256", ((string)config["digest"]!)[7..]);
        Assert.AreEqual("", SchemaValidator.ValidateImage("config-schema.json", configPath));

        using var reader = new Newtonsoft.Json.JsonTextReader(new StringReader(File.ReadAllText(configPath))) { DateParseHandling = Newtonsoft.Json.DateParseHandling.None };
        JObject c = JObject.Load(reader);
        Assert.AreEqual("2023-11-14T22:13:20Z", (string)c["created"]!);
        Assert.AreEqual("amd64", (string)c["architecture"]!);
        Assert.AreEqual("""{"User":"1654:1654","Env":["PATH=/usr/bin"],"Entrypoint":["/app/App"],"WorkingDir":"/app","ExposedPorts":{"8080/tcp":{}},"Labels":{"org.opencontainers.image.title":"App"}}""",
            c["config"]!.ToString(Newtonsoft.Json.Formatting.None));
    }

    [TestMethod]
    public void TheValidatorRejectsABrokenManifest()
    {
        using var dir = new TempDirectory();
        string bad = dir.Combine("manifest.json");
        File.WriteAllText(bad, """{"schemaVersion":3,"config":{"mediaType":"x","digest":"nope","size":-1},"layers":[]}""");
        Assert.AreNotEqual("", SchemaValidator.ValidateImage("image-manifest-schema.json", bad));
    }

    [TestMethod]
    public void LayerTarsHoldOwnersModesAndFixedTimes()
    {
        using var dir = new TempDirectory();
        string img = dir.Combine("img");
        ImageResult result = ImageLayoutWriter.Write(Plan(dir.Combine("src")), Request(img));
        string layer = Path.Combine(img, "blobs", "sha256", result.Layers[0].Digest[7..]);

        ProcessResult list = TestEnvironment.RunCapture("tar", "-tvzf", layer, "--numeric-owner", "--full-time");
        Assert.AreEqual(0, list.ExitCode, list.All);
        string[] lines = list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        StringAssert.Contains(lines.Single(l => l.EndsWith(" home/app/")), "drwxr-xr-x 1654/1654");
        StringAssert.Contains(lines.Single(l => l.Contains(" lib -> usr/lib")), "lrwxrwxrwx 0/0");
        Assert.IsTrue(lines.All(l => l.Contains("2023-11-14 22:13:20")), list.Output);
    }
}
