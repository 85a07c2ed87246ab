using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 14: dotnet publish pushes the image to a real registry (Debian's docker-registry on loopback): plain HTTP
/// listed as insecure, TLS with a test CA trusted through SSL_CERT_FILE and htpasswd credentials from docker's
/// config.json, Bearer tokens from a test token server; what the registry then serves runs under runc.
/// </summary>
[TestClass]
public sealed class RegistryTests
{
    private const string User = "pusher";
    private const string Password = "e2e-Pa55-word";

    private static string ImageDir(TestProject p) => Path.Combine(p.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-image");

    private static string LayoutDigest(TestProject p) => (string)JObject.Parse(File.ReadAllText(Path.Combine(ImageDir(p), "index.json")))["manifests"]![0]!["digest"]!;

    private static string Program(string version) => $$"""Console.WriteLine("registry {{version}}: " + string.Join(" ", args));""";

    private static TestProject Project() => TestProject.WithSdkElement("Pushed", "", """<OciImageDefaultArgs Include="from-cmd" />""", program: Program("v1"));

    private static string[] Push(TestRegistry registry, params string[] more) =>
        new[] { "-p:PublishOciImage=true", $"-p:OciImageRegistry={registry.Host}", "-p:OciImageRepository=team/pushed" }.Concat(more).ToArray();

    [TestMethod]
    public void PublishPushesToAnInsecureRegistryWhatRuncRunsAndAnUnchangedImageIsNotSentAgain()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("skopeo") is not null && TestEnvironment.Which("umoci") is not null, "skopeo and umoci (Debian packages)");
        TestEnvironment.Require(TestEnvironment.Which("containerd") is not null && TestEnvironment.Which("ctr") is not null && TestEnvironment.Which("podman") is not null, "containerd, ctr and podman (Debian packages containerd, podman)");
        using var registry = new TestRegistry();
        using TestProject project = Project();
        string archive = Path.Combine(project.Directory, "pushed.oci.tar");
        string[] args = Push(registry, $"-p:OciImageInsecureRegistries={registry.Host}", "-p:OciImageTags=1.0%3Blatest", $"-p:OciImageArchive={archive}");

        ProcessResult publish = project.Publish(args);
        string digest = LayoutDigest(project);
        StringAssert.Contains(publish.Output, $"Pushed -> {registry.Host}/team/pushed:1.0,latest (manifest {digest}; 4 of 4 blobs uploaded");
        JToken annotations = JObject.Parse(File.ReadAllText(Path.Combine(ImageDir(project), "index.json")))["manifests"]![0]!["annotations"]!;
        Assert.AreEqual($"{registry.Host}/team/pushed:latest", (string)annotations["io.containerd.image.name"]!);

        // The registry serves the layout's digest under both tags, and that image runs.
        foreach (string tag in new[] { "1.0", "latest" })
        {
            ProcessResult inspect = TestEnvironment.RunCapture("skopeo", "inspect", "--tls-verify=false", $"docker://{registry.Host}/team/pushed:{tag}");
            Assert.AreEqual(0, inspect.ExitCode, inspect.All);
            Assert.AreEqual(digest, (string)JObject.Parse(inspect.Output)["Digest"]!, tag);
        }

        using var pulled = new TempDirectory();
        ProcessResult copy = TestEnvironment.RunCapture("skopeo", "copy", "--src-tls-verify=false", $"docker://{registry.Host}/team/pushed:1.0", $"oci:{pulled.Combine("layout")}:1.0");
        Assert.AreEqual(0, copy.ExitCode, copy.All);
        string bundle = pulled.Combine("bundle");
        ProcessResult unpack = TestEnvironment.RunCapture("umoci", "unpack", "--image", $"{pulled.Combine("layout")}:1.0", bundle);
        Assert.AreEqual(0, unpack.ExitCode, unpack.All);
        string configPath = Path.Combine(bundle, "config.json");
        JObject config = JObject.Parse(File.ReadAllText(configPath));
        config["process"]!["terminal"] = false;
        File.WriteAllText(configPath, config.ToString());
        ProcessResult run = Runc.RunAsRoot(bundle);
        Assert.AreEqual("registry v1: from-cmd\n", run.Output, "Entrypoint the app, Cmd the default args: " + run.All);

        // containerd pulls it from the registry and runs it; its import and podman's oci-archive: name the archive's image by its annotation.
        using (var containerd = new Containerd())
        {
            string name = $"{registry.Host}/team/pushed:1.0";
            ProcessResult pull = containerd.Ctr("images", "pull", "--plain-http", name);
            Assert.AreEqual(0, pull.ExitCode, pull.All);
            ProcessResult ctrRun = containerd.Ctr("run", "--rm", name, "pushed-" + Guid.NewGuid().ToString("N")[..8]);
            Assert.AreEqual("registry v1: from-cmd\n", ctrRun.Output, ctrRun.All);
            ProcessResult import = containerd.Ctr("images", "import", archive);
            Assert.AreEqual(0, import.ExitCode, import.All);
            StringAssert.Contains(containerd.Ctr("images", "ls", "-q").Output, $"{registry.Host}/team/pushed:latest\n");
        }

        string podmanName = $"{registry.Host}/team/pushed:latest";
        try
        {
            ProcessResult podman = TestEnvironment.RunCapture("podman", "run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", $"oci-archive:{archive}", "given");
            Assert.AreEqual(0, podman.ExitCode, podman.All);
            StringAssert.EndsWith(podman.Output, "registry v1: given\n", "args given replace Cmd, as docker does");
            StringAssert.Contains(TestEnvironment.RunCapture("podman", "images", "--format", "{{.Repository}}:{{.Tag}}").Output, podmanName + "\n");
        }
        finally
        {
            TestEnvironment.RunCapture("podman", "rmi", "--force", podmanName);
        }

        // Nothing changed: one HEAD per tag, no upload.
        int requests = registry.SettledRequests().Count;
        int writes = registry.BlobWrites();
        ProcessResult again = project.Publish(args);
        StringAssert.Contains(again.Output, "up to date: 2 requests, nothing uploaded");
        Assert.AreEqual(writes, registry.BlobWrites());
        Assert.AreEqual(2, registry.SettledRequests().Count - requests);

        // An app change sends the app layer and the config, nothing else.
        project.WriteProgram(Program("v2"));
        int posts = registry.Requests().Count(r => r.Method == "POST");
        ProcessResult changed = project.Publish(args);
        StringAssert.Contains(changed.Output, "2 of 4 blobs uploaded");
        Assert.AreEqual(2, registry.Requests().Count(r => r.Method == "POST") - posts, "two upload sessions: app layer and config");
        ProcessResult inspect2 = TestEnvironment.RunCapture("skopeo", "inspect", "--tls-verify=false", $"docker://{registry.Host}/team/pushed:latest");
        Assert.AreEqual(LayoutDigest(project), (string)JObject.Parse(inspect2.Output)["Digest"]!);
    }

    [TestMethod]
    public void TlsBasicAndBearerRegistriesTakeDockersCredentialsAndNoSecretReachesTheLogOrTheBinlog()
    {
        using var tls = new TestRegistry(tls: true, htpasswd: $"{User}:{Password}");
        using TestProject project = Project();
        using var docker = new TempDirectory();
        string auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}"));
        File.WriteAllText(docker.Combine("config.json"), new JObject { ["auths"] = new JObject { [tls.Host] = new JObject { ["auth"] = auth } } }.ToString());
        project.Environment["DOCKER_CONFIG"] = docker.Path;
        project.Environment["SSL_CERT_FILE"] = tls.CaPath;

        // Without the CA: a TLS error, coded.
        project.Environment["SSL_CERT_FILE"] = "/dev/null";
        ProcessResult untrusted = project.Publish(expectSuccess: false, Push(tls));
        StringAssert.Contains(untrusted.Output, "error OCIB1417");
        project.Environment["SSL_CERT_FILE"] = tls.CaPath;

        string binlog = Path.Combine(project.Directory, "push.binlog");
        ProcessResult publish = project.Publish(Push(tls, $"-bl:{binlog}"));
        StringAssert.Contains(publish.Output, $"Pushed -> {tls.Host}/team/pushed:latest (manifest {LayoutDigest(project)}");
        ProcessResult inspect = TestEnvironment.RunCapture("skopeo", "inspect", "--tls-verify=false", $"--creds={User}:{Password}", $"docker://{tls.Host}/team/pushed:latest");
        Assert.AreEqual(0, inspect.ExitCode, inspect.All);
        Assert.AreEqual(LayoutDigest(project), (string)JObject.Parse(inspect.Output)["Digest"]!);
        ProcessResult replay = project.Dotnet("msbuild", binlog, "-v:diag", "-noconlog", $"-flp:logfile={binlog}.txt;verbosity=diagnostic");
        Assert.AreEqual(0, replay.ExitCode, replay.All);
        string replayed = File.ReadAllText(binlog + ".txt");
        StringAssert.Contains(replayed, "credentials for " + tls.Host, "the binlog says where the credentials came from");
        Assert.IsFalse(replayed.Contains(Password, StringComparison.Ordinal) || replayed.Contains(auth, StringComparison.Ordinal), "no secret in the binlog");

        // A wrong password: OCIB1410, naming the file, not the secret.
        File.WriteAllText(docker.Combine("config.json"), new JObject { ["auths"] = new JObject { [tls.Host] = new JObject { ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:wrong-{Password}")) } } }.ToString());
        ProcessResult refused = project.Publish(expectSuccess: false, Push(tls, "-p:OciImageTags=v2"));
        StringAssert.Contains(refused.Output, "error OCIB1410");
        Assert.IsFalse(refused.Output.Contains("wrong-" + Password, StringComparison.Ordinal));

        // Bearer: a token server, credentials from the environment.
        using var tokens = new TestTokenServer(User, Password);
        using var bearer = new TestRegistry(token: tokens);
        project.Environment["OCIBUNDLE_REGISTRY_USERNAME"] = User;
        project.Environment["OCIBUNDLE_REGISTRY_PASSWORD"] = Password;
        project.Environment["OCIBUNDLE_INSECURE_REGISTRIES"] = bearer.Host;
        string tokenBinlog = Path.Combine(project.Directory, "token.binlog");
        ProcessResult viaToken = project.Publish(Push(bearer, $"-bl:{tokenBinlog}"));
        StringAssert.Contains(viaToken.Output, $"Pushed -> {bearer.Host}/team/pushed:latest (manifest {LayoutDigest(project)}");
        Assert.IsTrue(tokens.Issued >= 1);
        Assert.IsFalse(viaToken.Output.Contains(Password, StringComparison.Ordinal));
        ProcessResult replayToken = project.Dotnet("msbuild", tokenBinlog, "-noconlog", $"-flp:logfile={tokenBinlog}.txt;verbosity=diagnostic");
        Assert.AreEqual(0, replayToken.ExitCode, replayToken.All);
        Assert.IsFalse(File.ReadAllText(tokenBinlog + ".txt").Contains(Password, StringComparison.Ordinal), "the password in the environment stays out of the binlog");
    }

    [TestMethod]
    public void ARuntimeIdentifierListedTwiceInOciImageRuntimeIdentifiersStopsBeforeAnyPublish()
    {
        using TestProject project = Project();
        ProcessResult publish = project.Publish(expectSuccess: false, "-p:PublishOciImage=true", "-p:OciImageRuntimeIdentifiers=linux-x64%3Blinux-x64");
        var errors = publish.Output.Split('\n').Where(l => l.Contains(": error ", StringComparison.Ordinal)).Distinct().ToList();
        Assert.IsTrue(errors.Count > 0 && errors.All(l => l.Contains("error OCIB1404: OciImageRuntimeIdentifiers lists linux-x64 more than once", StringComparison.Ordinal)), publish.Output);
        Assert.IsFalse(publish.Output.Contains("(OCI image", StringComparison.Ordinal), "no inner publish wrote a layout, and no index was written: " + publish.Output);
        Assert.IsFalse(Directory.Exists(Path.Combine(project.Directory, "bin")), "nothing was built or published before the error");
    }

    [TestMethod]
    public void ABadOciImageTagsValueStopsThePublishBeforeTheImageOrTheBundleIsWritten()
    {
        using TestProject project = Project();
        string[] write = { "-p:PublishOciImage=true", "-p:PublishOciBundle=true" };
        project.Publish(write);
        string bundle = TreeFingerprint.Of(project.BundleDir);
        string image = TreeFingerprint.Of(ImageDir(project));

        // A changed app: a publish that got past the checks would write both anew before pushing.
        project.WriteProgram(Program("v2"));
        ProcessResult bad = project.Publish(expectSuccess: false, write.Concat(new[] { "-p:OciImageRegistry=127.0.0.1:9", "-p:OciImageTags=1.0%3B-bad" }).ToArray());
        StringAssert.Contains(bad.Output, "error OCIB1402: OciImageTags names '-bad', which is not a tag", bad.Output);
        Assert.IsFalse(bad.Output.Contains("(OCI image", StringComparison.Ordinal) || bad.Output.Contains("(OCI bundle", StringComparison.Ordinal), "nothing was written: " + bad.Output);
        Assert.IsFalse(bad.Output.Contains("Pushed -> 127.0.0.1:9", StringComparison.Ordinal) || bad.Output.Contains("OCIB1418", StringComparison.Ordinal), "no push was tried: " + bad.Output);
        Assert.AreEqual(bundle, TreeFingerprint.Of(project.BundleDir), "the bundle is as it was");
        Assert.AreEqual(image, TreeFingerprint.Of(ImageDir(project)), "the image layout is as it was");
    }

    /// <summary>An arm64 sysroot: the Debian packages an invariant-globalization app needs, unpacked (apt-get download + dpkg-deb -x).</summary>
    private static string Arm64Sysroot(TempDirectory dir)
    {
        TestEnvironment.Require(TestEnvironment.RunCapture("dpkg", "--print-foreign-architectures").Output.Split('\n').Contains("arm64"), "dpkg's arm64 architecture (dpkg --add-architecture arm64 && apt-get update), for an arm64 sysroot");
        string debs = dir.Combine("debs");
        string root = dir.Combine("sysroot");
        Directory.CreateDirectory(debs);
        Directory.CreateDirectory(root);
        ProcessResult download = TestEnvironment.Run("apt-get", new[] { "download", "libc6:arm64", "libstdc++6:arm64", "libgcc-s1:arm64", "libssl3:arm64", "zlib1g:arm64" }, debs, null, TimeSpan.FromMinutes(5));
        Assert.AreEqual(0, download.ExitCode, download.All);
        foreach (string deb in Directory.GetFiles(debs, "*.deb"))
        {
            ProcessResult x = TestEnvironment.RunCapture("dpkg-deb", "-x", deb, root);
            Assert.AreEqual(0, x.ExitCode, x.All);
        }

        return root;
    }

    [TestMethod]
    public void OciImageRuntimeIdentifiersPushOneTagForAmd64AndArm64ThatContainerdRunsOnBoth()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("containerd") is not null && TestEnvironment.Which("ctr") is not null, "containerd and ctr (Debian package containerd)");
        TestEnvironment.Require(File.Exists("/proc/sys/fs/binfmt_misc/qemu-aarch64"), "qemu-user-static's binfmt handler for aarch64 (/proc/sys/fs/binfmt_misc/qemu-aarch64), to run the arm64 image");
        using var dir = new TempDirectory();
        string sysroot = Arm64Sysroot(dir);
        using var registry = new TestRegistry();
        using TestProject project = TestProject.WithSdkElement("Multi", "<InvariantGlobalization>true</InvariantGlobalization><OciBundleIncludeTimeZoneData>false</OciBundleIncludeTimeZoneData>",
            "", program: """Console.WriteLine($"multi on {System.Runtime.InteropServices.RuntimeInformation.OSArchitecture}");""");
        // The per-RID setting the README shows: the arm64 publish takes its libraries from the arm64 sysroot.
        File.WriteAllText(Path.Combine(project.Directory, "Directory.Build.targets"), $"""
            <Project>
              <PropertyGroup Condition="'$(RuntimeIdentifier)' == 'linux-arm64'">
                <OciBundleSysroot>{sysroot}</OciBundleSysroot>
              </PropertyGroup>
            </Project>
            """);

        ProcessResult publish = project.Publish("-p:PublishOciImage=true", "-p:OciImageRuntimeIdentifiers=linux-x64%3Blinux-arm64", $"-p:OciImageRegistry={registry.Host}", $"-p:OciImageInsecureRegistries={registry.Host}");
        string layout = Path.Combine(project.Directory, "bin", "Release", "net10.0", "oci-image");
        string indexDigest = (string)JObject.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))["manifests"]![0]!["digest"]!;
        StringAssert.Contains(publish.Output, $"Multi -> {registry.Host}/multi:latest (manifest {indexDigest}");
        JObject index = JObject.Parse(File.ReadAllText(Path.Combine(layout, "blobs", "sha256", indexDigest[7..])));
        CollectionAssert.AreEqual(new[] { "amd64", "arm64" }, index["manifests"]!.Select(m => (string)m["platform"]!["architecture"]!).ToArray());
        Assert.AreEqual("v8", (string)index["manifests"]![1]!["platform"]!["variant"]!);

        ProcessResult raw = TestEnvironment.RunCapture("skopeo", "inspect", "--raw", "--tls-verify=false", $"docker://{registry.Host}/multi:latest");
        Assert.AreEqual(0, raw.ExitCode, raw.All);
        Assert.IsTrue(JToken.DeepEquals(index, JObject.Parse(raw.Output)), "the registry serves the layout's index: " + raw.Output);

        using var containerd = new Containerd();
        foreach ((string platform, string expected) in new[] { ("linux/amd64", "X64"), ("linux/arm64", "Arm64") })
        {
            ProcessResult pull = containerd.Ctr("images", "pull", "--plain-http", "--platform", platform, $"{registry.Host}/multi:latest");
            Assert.AreEqual(0, pull.ExitCode, pull.All);
            ProcessResult run = containerd.Ctr("run", "--rm", "--platform", platform, $"{registry.Host}/multi:latest", "multi-" + Guid.NewGuid().ToString("N")[..8]);
            Assert.AreEqual($"multi on {expected}\n", run.Output, platform + ": " + run.All);
        }
    }

    /// <summary>A containerd of the test's own (root, state, socket in a temporary folder), stopped by its pid.</summary>
    internal sealed class Containerd : IDisposable
    {
        private readonly TempDirectory _dir = new();
        private readonly System.Diagnostics.Process _process;

        public Containerd()
        {
            string config = _dir.Combine("config.toml");
            File.WriteAllText(config, $"version = 2\nroot = \"{_dir.Combine("root")}\"\nstate = \"{_dir.Combine("state")}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{Socket}\"\n");
            var psi = new System.Diagnostics.ProcessStartInfo("containerd") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("--config");
            psi.ArgumentList.Add(config);
            _process = System.Diagnostics.Process.Start(psi)!;
            _process.OutputDataReceived += (_, _) => { };
            _process.ErrorDataReceived += (_, _) => { };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            for (int i = 0; i < 200 && Ctr("version").ExitCode != 0; i++)
            {
                Thread.Sleep(100);
            }
        }

        private string Socket => _dir.Combine("containerd.sock");

        public ProcessResult Ctr(params string[] args) => TestEnvironment.RunCapture("ctr", new[] { "--address", Socket }.Concat(args).ToArray());

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process.Dispose();
            TestEnvironment.RunCapture("umount", "-R", _dir.Combine("root")); // snapshot mounts, if any are left
            _dir.Dispose();
        }
    }
}
