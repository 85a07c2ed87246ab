using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 28, item 2: an app that stores data in an <c>OciBundleVolume</c> keeps it across runs, a republish and
/// <c>dotnet clean</c> under runc (root and rootless), and writes under podman with no <c>-v</c>.
/// </summary>
[TestClass]
public sealed class VolumeTests
{
    /// <summary>Counts its runs in /data/count.txt and prints the count with its version.</summary>
    private static string Counter(string version) => $$"""
        const string path = "/data/count.txt";
        int count = File.Exists(path) ? int.Parse(File.ReadAllText(path)) : 0;
        count++;
        File.WriteAllText(path, count.ToString());
        Console.WriteLine($"count {count} {{version}}");
        """;

    private const string Volume = """<OciBundleVolume Include="/data" />""";

    private static string VolumesDir(TestProject project) => project.BundleDir + ".volumes";

    [TestMethod]
    public void TheCountSurvivesRunsARepublishAndCleanUnderRuncAndPodmanWritesWithNoV()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("podman") is not null, "podman (Debian package podman)");
        using TestProject project = TestProject.WithSdkElement("VolumeCounter", items: Volume, program: Counter("v1"));
        string archive = Path.Combine(project.Directory, "volumecounter.oci.tar");
        ProcessResult publish = project.Publish("-p:PublishOciBundle=true", "-p:PublishOciImage=true", $"-p:OciImageArchive={archive}");

        // config.json binds the folder beside the bundle, named relative to it; the folder is the app user's.
        JObject config = JObject.Parse(File.ReadAllText(Path.Combine(project.BundleDir, "config.json")));
        Assert.AreEqual(
            """{"destination":"/data","type":"bind","source":"../oci-bundle.volumes/data","options":["rbind","rw","nosuid","nodev"]}""",
            config["mounts"]!.Last!.ToString(Newtonsoft.Json.Formatting.None));
        string data = Path.Combine(VolumesDir(project), "data");
        Assert.AreEqual("1654:1654", TestEnvironment.RunCapture("stat", "-c", "%u:%g", data).Output.Trim());
        StringAssert.Contains(publish.Output, $"VolumeCounter -> {data}/ (OciBundleVolume /data: the app's data, kept", publish.Output);

        Assert.AreEqual("count 1 v1\n", RunBundle(project.BundleDir));
        Assert.AreEqual("count 2 v1\n", RunBundle(project.BundleDir));

        // The image lists the volume and holds /data as the app user's: podman's anonymous volume copies that owner.
        JObject imageConfig = ImageConfig(archive);
        Assert.AreEqual("""{"/data":{}}""", imageConfig["config"]!["Volumes"]!.ToString(Newtonsoft.Json.Formatting.None));
        ProcessResult podman = TestEnvironment.RunCapture("podman", "run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", "oci-archive:" + archive);
        TestEnvironment.RunCapture("podman", "rmi", "--force", "localhost/volumecounter:latest");
        Assert.AreEqual(0, podman.ExitCode, podman.All);
        StringAssert.EndsWith(podman.Output, "count 1 v1\n", podman.All);

        // A republish after an app change swaps the bundle folder; the data beside it stays.
        File.WriteAllText(Path.Combine(project.Directory, "Program.cs"), Counter("v2"));
        project.Publish("-p:PublishOciBundle=true");
        Assert.AreEqual("count 3 v2\n", RunBundle(project.BundleDir));

        ProcessResult clean = project.Dotnet("clean", "-c", "Release");
        Assert.AreEqual(0, clean.ExitCode, clean.All);
        Assert.IsFalse(Directory.Exists(project.BundleDir) || File.Exists(archive), "clean removes the bundle and the image:\n" + clean.Output);
        Assert.AreEqual("3", File.ReadAllText(Path.Combine(data, "count.txt")), "clean keeps the app's data");
    }

    [TestMethod]
    public void ARootlessBundlesVolumeBelongsToTheMappedHostUser()
    {
        (uint uid, uint gid) = Runc.RequireRootlessUser();
        using TestProject project = TestProject.WithSdkElement("RootlessVolume", "<OciBundleRootless>true</OciBundleRootless>", Volume, Counter("rootless"));
        Runc.OpenUpFor(project.Directory);
        project.Publish("-p:PublishOciBundle=true", $"-p:OciBundleHostUid={uid}", $"-p:OciBundleHostGid={gid}");
        string data = Path.Combine(VolumesDir(project), "data");
        Assert.AreEqual($"{uid}:{gid}", TestEnvironment.RunCapture("stat", "-c", "%u:%g", data).Output.Trim());

        for (int expected = 1; expected <= 2; expected++)
        {
            ProcessResult run = Runc.RunRootless(project.BundleDir);
            Assert.AreEqual(0, run.ExitCode, run.All);
            Assert.AreEqual($"count {expected} rootless\n", run.Output, run.All);
        }
    }

    /// <summary>The image config of the layout the archive was written from (the layout beside the bundle).</summary>
    private static JObject ImageConfig(string archive)
    {
        string layout = Path.Combine(Path.GetDirectoryName(archive)!, "bin", "Release", "net10.0", "linux-x64", "oci-image");
        JObject index = JObject.Parse(File.ReadAllText(Path.Combine(layout, "index.json")));
        string Blob(string digest) => File.ReadAllText(Path.Combine(layout, "blobs", "sha256", digest["sha256:".Length..]));
        JObject manifest = JObject.Parse(Blob((string)index["manifests"]![0]!["digest"]!));
        return JObject.Parse(Blob((string)manifest["config"]!["digest"]!));
    }

    private static string RunBundle(string bundle)
    {
        ProcessResult run = Runc.RunAsRoot(bundle);
        Assert.AreEqual(0, run.ExitCode, run.All);
        return run.Output;
    }
}
