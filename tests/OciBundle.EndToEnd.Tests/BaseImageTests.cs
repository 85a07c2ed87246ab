using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 25, item 2, as a user meets it: a Debian 12 base image (an mmdebstrap root, one layer, with Env and a label)
/// pushed to a loopback docker-registry with TLS and htpasswd; one publish with <c>OciImageBase=docker://...@digest</c>
/// that pushes to another repository of the same registry. The manifest's first layer is the base's (digest, media
/// type, size); the push mounts it instead of sending it; podman runs the image from the registry and the bundle runs
/// under runc, both printing the app's lines from the base's libraries.
/// </summary>
[TestClass]
public sealed class BaseImageTests
{
    private const string User = "builder";
    private const string Password = "e2e-Ba5e-word";

    [TestMethod]
    public void AnImageBuiltOnABaseStartsWithItsLayersAndThePushMountsThem()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("skopeo") is not null && TestEnvironment.Which("podman") is not null, "skopeo and podman (Debian packages skopeo, podman)");
        string root = DebianSysroots.Get("bookworm", "amd64", SysrootTests.Bookworm);
        using var work = new TempDirectory("ocibundle-base-image-");
        string layout = work.Combine("base");
        string baseManifest = OciLayoutMaker.WithConfig(layout, OciLayoutMaker.Write(layout, new[] { root }, "amd64", tag: "12"),
            """{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","BASE_GREETING=hello from the base"],"Labels":{"org.example.base":"debian-base"}}""",
            """[{"created_by":"mmdebstrap bookworm"}]""");
        using var registry = new TestRegistry(tls: true, htpasswd: $"{User}:{Password}");
        ProcessResult pushed = TestEnvironment.RunCapture("skopeo", "copy", "--preserve-digests", "--dest-tls-verify=false", $"--dest-creds={User}:{Password}", $"oci:{layout}:12", $"docker://{registry.Host}/base/debian:12");
        Assert.AreEqual(0, pushed.ExitCode, pushed.All);

        string docker = work.Combine("docker");
        Directory.CreateDirectory(docker);
        File.WriteAllText(Path.Combine(docker, "config.json"), new JObject { ["auths"] = new JObject { [registry.Host] = new JObject { ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}")) } } }.ToString());
        using TestProject project = TestProject.WithSdkElement("OnBase", $"<OciBundleSysrootCache>{work.Combine("cache")}</OciBundleSysrootCache>", SysrootTests.AppArg);
        project.Environment["DOCKER_CONFIG"] = docker;
        project.Environment["SSL_CERT_FILE"] = registry.CaPath!;
        int writesBefore = registry.BlobWrites();
        int requestsBefore = registry.SettledRequests().Count; // skopeo's push of the base
        ProcessResult publish = project.Publish("-p:PublishOciBundle=true", "-p:PublishOciImage=true", $"-p:OciImageBase=docker://{registry.Host}/base/debian@{baseManifest}",
            $"-p:OciImageRegistry={registry.Host}", "-p:OciImageRepository=team/onbase", "-p:OciImageTags=1.0");

        // The first layer is the base's, as its manifest names it; the base is recorded as the base.
        JObject baseLayer = (JObject)Blob(layout, baseManifest)["layers"]![0]!;
        string image = Path.Combine(project.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-image");
        string digest = (string)JObject.Parse(File.ReadAllText(Path.Combine(image, "index.json")))["manifests"]![0]!["digest"]!;
        JObject manifest = Blob(image, digest);
        Assert.IsTrue(JToken.DeepEquals(baseLayer, manifest["layers"]![0]), $"{manifest["layers"]![0]} is the base's {baseLayer}");
        Assert.IsTrue(manifest["layers"]!.Count() > 1, "the product's layers follow");
        Assert.AreEqual(baseManifest, (string?)manifest["annotations"]!["org.opencontainers.image.base.digest"]);
        Assert.AreEqual($"{registry.Host}/base/debian", (string?)manifest["annotations"]!["org.opencontainers.image.base.name"]);
        JObject config = Blob(image, (string)manifest["config"]!["digest"]!);
        CollectionAssert.Contains(config["config"]!["Env"]!.Values<string>().ToList(), "BASE_GREETING=hello from the base");
        Assert.AreEqual("debian-base", (string?)config["config"]!["Labels"]!["org.example.base"]);

        // The push: the base's layer mounted from its repository (or found), never sent again.
        StringAssert.Contains(publish.Output, $"OnBase -> {registry.Host}/team/onbase:1.0 (manifest {digest}; {manifest["layers"]!.Count()} of {manifest["layers"]!.Count() + 1} blobs uploaded");
        long ownBytes = manifest["layers"]!.Skip(1).Sum(l => (long)l["size"]!) + (long)manifest["config"]!["size"]!;
        var requests = registry.SettledRequests().Skip(requestsBefore).ToList();
        Assert.IsFalse(requests.Any(r => r.Method == "PUT" && r.Path.Contains(((string)baseLayer["digest"]!)[7..], StringComparison.Ordinal)), "the base layer was uploaded again");
        Assert.IsTrue(requests.Any(r => r.Method == "POST" && r.Path.Contains("mount=", StringComparison.Ordinal) && r.Status == 201), "the base layer was mounted");
        Console.WriteLine($"base layer {(long)baseLayer["size"]! / 1048576.0:F1} MB, own layers and config {ownBytes / 1048576.0:F1} MB, {registry.BlobWrites() - writesBefore} blob writes");

        // The bundle: the base's tree (a file no closure asks for) and the app on its libraries.
        Assert.IsTrue(File.Exists(Path.Combine(project.BundleDir, "rootfs", "usr", "bin", "dpkg")), "the base's tree is the bundle's");
        ProcessResult bundled = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, bundled.ExitCode, bundled.All);
        StringAssert.Contains(SysrootTests.Lines(bundled.Output)["os"], "Debian GNU/Linux 12 (bookworm)");

        // podman pulls the pushed image and runs it: the same lines.
        string reference = $"{registry.Host}/team/onbase:1.0";
        try
        {
            ProcessResult pulled = TestEnvironment.RunCapture("podman", "pull", "--tls-verify=false", $"--creds={User}:{Password}", reference);
            Assert.AreEqual(0, pulled.ExitCode, pulled.All);
            ProcessResult run = TestEnvironment.RunCapture("podman", "run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", reference);
            Assert.AreEqual(0, run.ExitCode, run.All);
            Dictionary<string, string> inside = SysrootTests.Lines(run.Output);
            StringAssert.Contains(inside["os"], "Debian GNU/Linux 12 (bookworm)");
            StringAssert.StartsWith(inside["icu"], "libicuuc.so.72");
        }
        finally
        {
            TestEnvironment.RunCapture("podman", "rmi", "--force", reference);
        }
    }

    /// <summary>
    /// The review of issue 25's base images, as a user meets it: a Debian base (a local layout) keeps its accounts and
    /// its history lines up with its layers; podman runs the image as the app user, whose name the base's files now know
    /// beside the base's own (root, mail, the shadow group).
    /// </summary>
    [TestMethod]
    public void AnImageOnADebianBaseKeepsTheBasesAccountsAndAddsTheAppUser()
    {
        TestEnvironment.Require(TestEnvironment.Which("podman") is not null, "podman (Debian package podman)");
        string root = DebianSysroots.Get("bookworm", "amd64", SysrootTests.Bookworm);
        using var work = new TempDirectory("ocibundle-base-accounts-");
        string layout = work.Combine("base");
        OciLayoutMaker.WithConfig(layout, OciLayoutMaker.Write(layout, new[] { root }, "amd64", tag: "12"),
            """{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"StopSignal":"SIGQUIT","Cmd":["bash"]}""",
            """[{"created_by":"ARG RELEASE=12","empty_layer":true},{"created_by":"mmdebstrap bookworm"},{"created_by":"CMD [\"bash\"]","empty_layer":true}]""");
        using TestProject project = TestProject.WithSdkElement("OnDebian", $"<OciBundleSysrootCache>{work.Combine("cache")}</OciBundleSysrootCache>", SysrootTests.AppArg);
        string archive = work.Combine("ondebian.tar");
        project.Publish("-p:PublishOciImage=true", $"-p:OciImageBase={layout}:12", $"-p:OciImageArchive={archive}");

        ProcessResult run = TestEnvironment.RunCapture("podman", "run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", "--entrypoint", "/bin/sh", $"oci-archive:{archive}",
            "-c", "getent passwd root mail app; getent group shadow app; id -un; cat /etc/passwd | wc -l");
        Assert.AreEqual(0, run.ExitCode, run.All);
        string[] lines = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // The base's lines as base-passwd wrote them ('*', not 'x': mmdebstrap runs no pwconv), the app user's as this product writes it.
        CollectionAssert.Contains(lines, "root:*:0:0:root:/root:/bin/bash", run.Output);
        CollectionAssert.Contains(lines, "mail:*:8:8:mail:/var/mail:/usr/sbin/nologin", run.Output);
        CollectionAssert.Contains(lines, "app:x:1654:1654:app:/home/app:/sbin/nologin", run.Output);
        CollectionAssert.Contains(lines, "shadow:*:42:", run.Output);
        CollectionAssert.Contains(lines, "app:x:1654:", run.Output);
        CollectionAssert.Contains(lines, "app", "the process runs as the app user, by name");

        string image = Path.Combine(project.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-image");
        JObject manifest = Blob(image, (string)JObject.Parse(File.ReadAllText(Path.Combine(image, "index.json")))["manifests"]![0]!["digest"]!);
        JObject config = Blob(image, (string)manifest["config"]!["digest"]!);
        Assert.AreEqual(manifest["layers"]!.Count(), config["history"]!.Count(h => h["empty_layer"]?.Value<bool>() != true), config["history"]!.ToString());
        Assert.AreEqual("SIGQUIT", (string?)config["config"]!["StopSignal"]);
    }

    private static JObject Blob(string layout, string digest) => JObject.Parse(File.ReadAllText(Path.Combine(layout, "blobs", "sha256", digest[7..])));


}
