using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>Issue 8: an OCI image layout from the same closure goes through skopeo and umoci into a running container.</summary>
[TestClass]
public sealed class ImageTests
{
    private static string ImageDir(TestProject p) => Path.Combine(p.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-image");

    private static JObject Index(string image) => JObject.Parse(File.ReadAllText(Path.Combine(image, "index.json")));

    private static string ManifestDigest(string image) => (string)Index(image)["manifests"]![0]!["digest"]!;

    private static JObject Blob(string image, string digest) => JObject.Parse(File.ReadAllText(Path.Combine(image, "blobs", "sha256", digest[7..])));

    [TestMethod]
    public void AnImageGoesThroughSkopeoAndUmociIntoRuncReproducibly()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("skopeo") is not null && TestEnvironment.Which("umoci") is not null, "skopeo and umoci (Debian packages)");
        using TestProject project = TestProject.WithSdkElement("Imaged", "<Version>2.1.0</Version>",
            """<OciImagePort Include="8080" /><OciImageLabel Include="com.example.team" Value="platform" />""",
            program: "Console.WriteLine(\"image v1\");");
        project.Environment["SOURCE_DATE_EPOCH"] = "1700000000";
        string archive = Path.Combine(project.Directory, "imaged.oci.tar");

        ProcessResult publish = project.Publish("-p:PublishOciImage=true", $"-p:OciImageArchive={archive}");
        string image = ImageDir(project);
        Assert.IsFalse(Directory.Exists(project.BundleDir), "only the image was asked for");

        // (Its documents' schema validity is SchemaTests': that one needs ../shared, this one skopeo, umoci and runc.)
        string manifestDigest = ManifestDigest(image);
        JObject manifest = Blob(image, manifestDigest);

        // Issue 28: the output lines name the image, its compressed size (what its layers weigh) and the archive, with its size.
        double compressed = manifest["layers"]!.Sum(l => (long)l["size"]!) / 1048576.0;
        StringAssert.Contains(publish.Output, $"Imaged -> {image}/ (OCI image localhost/imaged:latest, {compressed.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)} MB compressed: 3 layers, manifest {manifestDigest}");
        double archived = new FileInfo(archive).Length / 1048576.0;
        StringAssert.Contains(publish.Output, $"Imaged -> {archive} (OCI archive of localhost/imaged:latest, {archived.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)} MB); run it with: podman run --rm oci-archive:{archive}");

        // skopeo reads it, and the archive.
        ProcessResult inspect = TestEnvironment.RunCapture("skopeo", "inspect", $"oci:{image}:latest");
        Assert.AreEqual(0, inspect.ExitCode, inspect.All);
        JObject info = JObject.Parse(inspect.Output);
        Assert.AreEqual("amd64", (string)info["Architecture"]!);
        Assert.AreEqual("linux", (string)info["Os"]!);
        Assert.AreEqual("2.1.0", (string)info["Labels"]!["org.opencontainers.image.version"]!);
        Assert.AreEqual("platform", (string)info["Labels"]!["com.example.team"]!);
        Assert.AreEqual(0, TestEnvironment.RunCapture("skopeo", "inspect", $"oci-archive:{archive}:latest").ExitCode, "skopeo reads the oci-archive");

        // umoci unpacks it into a bundle that runc runs.
        using var unpacked = new TempDirectory();
        string bundle = unpacked.Combine("bundle");
        ProcessResult unpack = TestEnvironment.RunCapture("umoci", "unpack", "--image", $"{image}:latest", bundle);
        Assert.AreEqual(0, unpack.ExitCode, unpack.All);
        string configPath = Path.Combine(bundle, "config.json");
        JObject config = JObject.Parse(File.ReadAllText(configPath));
        config["process"]!["terminal"] = false; // umoci asks for a terminal; tests have none
        File.WriteAllText(configPath, config.ToString());
        ProcessResult run = Runc.RunAsRoot(bundle);
        Assert.AreEqual("image v1\n", run.Output, run.All);
        Assert.AreEqual(1654, (int)config["process"]!["user"]!["uid"]!);

        // A clean rebuild gives the same manifest digest.
        Directory.Delete(Path.Combine(project.Directory, "bin"), recursive: true);
        Directory.Delete(Path.Combine(project.Directory, "obj"), recursive: true);
        project.Publish("-p:PublishOciImage=true");
        Assert.AreEqual(manifestDigest, ManifestDigest(image), "reproducible");

        // An app change re-ships the app layer only.
        var layersBefore = manifest["layers"]!.Select(l => (string)l["digest"]!).ToList();
        project.WriteProgram("Console.WriteLine(\"image v2\");");
        project.Publish("-p:PublishOciImage=true");
        var layersAfter = Blob(image, ManifestDigest(image))["layers"]!.Select(l => (string)l["digest"]!).ToList();
        Assert.AreEqual(layersBefore[0], layersAfter[0], "system layer kept");
        Assert.AreEqual(layersBefore[1], layersAfter[1], "runtime layer kept");
        Assert.AreNotEqual(layersBefore[2], layersAfter[2], "app layer re-shipped");
    }

    [TestMethod]
    public void ZstdLayersRunUnderContainerdAndPodmanAndAnAppChangeReusesTheOtherLayers()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("containerd") is not null && TestEnvironment.Which("ctr") is not null && TestEnvironment.Which("podman") is not null, "containerd, ctr and podman (Debian packages containerd, podman)");
        using TestProject project = TestProject.WithSdkElement("Zstded", "<OciImageLayerCompression>zstd</OciImageLayerCompression>", "", program: "Console.WriteLine(\"zstd v1\");");
        string archive = Path.Combine(project.Directory, "zstded.oci.tar");
        ProcessResult publish = project.Publish("-p:PublishOciImage=true", $"-p:OciImageArchive={archive}");
        string image = ImageDir(project);
        StringAssert.Contains(publish.Output, " MB compressed: 3 layers, manifest sha256:");
        Assert.IsTrue(Blob(image, ManifestDigest(image))["layers"]!.All(l => (string)l["mediaType"]! == "application/vnd.oci.image.layer.v1.tar+zstd"));

        using (var containerd = new RegistryTests.Containerd())
        {
            ProcessResult import = containerd.Ctr("images", "import", archive);
            Assert.AreEqual(0, import.ExitCode, import.All);
            ProcessResult run = containerd.Ctr("run", "--rm", "localhost/zstded:latest", "zstd-" + Guid.NewGuid().ToString("N")[..8]);
            Assert.AreEqual("zstd v1\n", run.Output, run.All);
        }

        try
        {
            ProcessResult podman = TestEnvironment.RunCapture("podman", "run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", $"oci-archive:{archive}");
            Assert.AreEqual(0, podman.ExitCode, podman.All);
            StringAssert.EndsWith(podman.Output, "zstd v1\n");
        }
        finally
        {
            TestEnvironment.RunCapture("podman", "rmi", "--force", "localhost/zstded:latest");
        }

        // An app change: the system and runtime layers are the blobs already there, linked, not compressed again.
        var before = Blob(image, ManifestDigest(image))["layers"]!.Select(l => (string)l["digest"]!).ToList();
        project.WriteProgram("Console.WriteLine(\"zstd v2\");");
        ProcessResult changed = project.Publish("-p:PublishOciImage=true", $"-p:OciImageArchive={archive}");
        StringAssert.Contains(changed.Output, " MB compressed: 3 layers, 2 reused, manifest sha256:");
        var after = Blob(image, ManifestDigest(image))["layers"]!.Select(l => (string)l["digest"]!).ToList();
        CollectionAssert.AreEqual(before.Take(2).ToList(), after.Take(2).ToList());
        Assert.AreNotEqual(before[2], after[2]);
    }

    [TestMethod]
    public void ABadImageTagIsACodedError()
    {
        using TestProject project = TestProject.WithSdkElement("BadTag");
        ProcessResult publish = project.Publish(false, "-p:PublishOciImage=true", "-p:OciImageTag=-nope");
        StringAssert.Contains(publish.Output, "error OCIB1150: OciImageTag '-nope' is not a valid tag");
        Assert.IsFalse(Directory.Exists(ImageDir(project)));
    }
}
