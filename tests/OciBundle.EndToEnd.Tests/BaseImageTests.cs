using System.Formats.Tar;
using System.IO.Compression;
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
    /// Issue 25's leftover (owners and special bits): a Debian 12 base as a local OCI layout; every path of the bundle
    /// that the base's layer holds (and the product's layers do not) has the owner, group and mode its header in the
    /// image's first layer gives, setuid, setgid and sticky bits included (unix_chkpwd root:42 02755, /var/mail root:8
    /// 02775, /tmp 01777); the bundle still runs under runc.
    /// </summary>
    [TestMethod]
    public void TheBundleHasTheBasesOwnersAndModesAsItsLayersHeadersSay()
    {
        Runc.RequireRoot();
        string root = DebianSysroots.Get("bookworm", "amd64", SysrootTests.Bookworm);
        using var work = new TempDirectory("ocibundle-base-owners-");
        string layout = work.Combine("base");
        OciLayoutMaker.Write(layout, new[] { root }, "amd64", tag: "12");
        using TestProject project = TestProject.WithSdkElement("OnBaseOwners", $"<OciBundleSysrootCache>{work.Combine("cache")}</OciBundleSysrootCache>", SysrootTests.AppArg);
        project.Publish("-p:PublishOciBundle=true", "-p:PublishOciImage=true", $"-p:OciImageBase={layout}:12");

        string image = Path.Combine(project.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-image");
        JObject manifest = Blob(image, (string)JObject.Parse(File.ReadAllText(Path.Combine(image, "index.json")))["manifests"]![0]!["digest"]!);
        var own = manifest["layers"]!.Skip(1).SelectMany(l => LayerHeaders(image, (string)l["digest"]!)).Select(h => h.Path).ToHashSet(StringComparer.Ordinal);
        var headers = LayerHeaders(image, (string)manifest["layers"]![0]!["digest"]!).Where(h => h.Path != "/" && !own.Contains(h.Path)
            && h.Type is TarEntryType.Directory or TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.HardLink or TarEntryType.SymbolicLink).ToList();
        var wanted = headers.ToDictionary(h => h.Path, h => (h.Uid, h.Gid, h.Type == TarEntryType.SymbolicLink ? 0 : h.Mode), StringComparer.Ordinal);
        Assert.AreEqual((0, 42, 0b010_111_101_101), wanted["/usr/sbin/unix_chkpwd"], "the base's header, as Debian has it");
        Assert.AreEqual((0, 8, 0b010_111_111_101), wanted["/var/mail"]);
        Assert.AreEqual((0, 0, 0b001_111_111_111), wanted["/tmp"]);

        // The bundle as find(1) sees it: owner, group and the permission bits with setuid, setgid and sticky (%m).
        ProcessResult found = TestEnvironment.RunCapture("find", Path.Combine(project.BundleDir, "rootfs"), "-printf", "/%P\t%U:%G\t%m\t%y\n");
        Assert.AreEqual(0, found.ExitCode, found.All);
        var bundle = found.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t'))
            .ToDictionary(f => f[0], f => $"{f[1]} {(f[3] == "l" ? "0" : Convert.ToString(Convert.ToInt32(f[2], 8), 8))}", StringComparer.Ordinal);
        var differ = new List<string>();
        foreach ((string path, TarEntryType type, int uid, int gid, int mode) in headers)
        {
            string has = bundle.TryGetValue(path, out string? stat) ? stat : "missing";
            string says = $"{uid}:{gid} {Convert.ToString(type == TarEntryType.SymbolicLink ? 0 : mode, 8)}";
            if (has != says)
            {
                differ.Add($"{path}: {has} in the bundle, {says} in the layer");
            }
        }

        Assert.AreEqual(0, differ.Count, $"{differ.Count} of {headers.Count} paths differ:\n" + string.Join("\n", differ.Take(20)));
        Console.WriteLine($"{headers.Count} paths of the base compared, {headers.Count(h => (h.Mode & 0xE00) != 0)} with setuid, setgid or sticky bits, {headers.Count(h => h.Uid != 0 || h.Gid != 0)} not root:root");

        // Its setuid files and other users' folders are theirs on this machine too: only root enters the bundle, and
        // runc still runs it (the app as uid 1654).
        Assert.AreEqual(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(project.BundleDir));
        ProcessResult bundled = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, bundled.ExitCode, bundled.All);
        StringAssert.Contains(SysrootTests.Lines(bundled.Output)["os"], "Debian GNU/Linux 12 (bookworm)");
    }

    /// <summary>Every entry of a gzip layer of the layout: its path ("/usr/bin"), type, owner, group and full mode.</summary>
    private static List<(string Path, TarEntryType Type, int Uid, int Gid, int Mode)> LayerHeaders(string layout, string digest)
    {
        using var gzip = new GZipStream(File.OpenRead(Path.Combine(layout, "blobs", "sha256", digest[7..])), CompressionMode.Decompress);
        using var reader = new TarReader(gzip);
        var headers = new List<(string, TarEntryType, int, int, int)>();
        while (reader.GetNextEntry() is { } entry)
        {
            headers.Add(("/" + entry.Name.TrimStart('.').Trim('/'), entry.EntryType, entry.Uid, entry.Gid, (int)entry.Mode & 0xFFF));
        }

        return headers;
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
