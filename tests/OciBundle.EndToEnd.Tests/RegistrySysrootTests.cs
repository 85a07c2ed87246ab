using System.Security.Cryptography;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 25, item 1, as a user meets it: <c>OciBundleSysroot=docker://...</c> against Debian's docker-registry on
/// loopback with TLS (a test CA through SSL_CERT_FILE) and htpasswd credentials from docker's config.json. The base
/// image is made here from mmdebstrap roots (Debian 12 amd64 and arm64, one image index) and pushed with skopeo; the
/// bundle takes its libraries from the pulled image, runs under runc, and records what the tag resolved to; with the
/// registry stopped a pinned publish still works from the cache and a tag gives a coded error that says to pin.
/// </summary>
[TestClass]
public sealed class RegistrySysrootTests
{
    private const string User = "puller";
    private const string Password = "e2e-Pu11-word";
    private const string Arm64Packages = "libc6,libstdc++6,libgcc-s1,libicu72,libssl3,zlib1g,tzdata";

    private static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    /// <summary>A layout holding one image index (tag 12) of the two roots, amd64 then arm64; returns the digests of the index and of each manifest.</summary>
    private static (string Index, string Amd64, string Arm64) BaseLayout(string layout, string amd64, string arm64)
    {
        string amd = OciLayoutMaker.Write(layout, new[] { amd64 }, "amd64", tag: "amd64");
        string arm = OciLayoutMaker.Write(layout, new[] { arm64 }, "arm64", tag: "arm64");
        string blobs = Path.Combine(layout, "blobs", "sha256");
        JObject Entry(string digest, string arch, string? variant) => new()
        {
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["digest"] = digest,
            ["size"] = new FileInfo(Path.Combine(blobs, digest[7..])).Length,
            ["platform"] = variant is null ? new JObject { ["architecture"] = arch, ["os"] = "linux" } : new JObject { ["architecture"] = arch, ["os"] = "linux", ["variant"] = variant },
        };
        var index = new JObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.index.v1+json",
            ["manifests"] = new JArray(Entry(amd, "amd64", null), Entry(arm, "arm64", "v8")),
        };
        byte[] bytes = Encoding.UTF8.GetBytes(index.ToString(Newtonsoft.Json.Formatting.None));
        string digest = Sha256(bytes);
        File.WriteAllBytes(Path.Combine(blobs, digest[7..]), bytes);
        File.WriteAllText(Path.Combine(layout, "index.json"), new JObject
        {
            ["schemaVersion"] = 2,
            ["manifests"] = new JArray(new JObject { ["mediaType"] = "application/vnd.oci.image.index.v1+json", ["digest"] = digest, ["size"] = bytes.Length, ["annotations"] = new JObject { ["org.opencontainers.image.ref.name"] = "12" } }),
        }.ToString());
        return (digest, amd, arm);
    }

    private static void DockerConfig(string folder, string host, string password) =>
        File.WriteAllText(Path.Combine(folder, "config.json"), new JObject { ["auths"] = new JObject { [host] = new JObject { ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{password}")) } } }.ToString());

    private static JObject ImageManifest(TestProject project)
    {
        string layout = Path.Combine(project.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-image");
        string digest = (string)JObject.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))["manifests"]![0]!["digest"]!;
        return JObject.Parse(File.ReadAllText(Path.Combine(layout, "blobs", "sha256", digest[7..])));
    }

    private static string RootfsButSbom(string bundle) => string.Join("\n", TreeFingerprint.Of(Path.Combine(bundle, "rootfs")).Split('\n').Where(l => !l.Contains("usr/share/sbom", StringComparison.Ordinal)));

    private static string Error(ProcessResult publish, string code)
    {
        Assert.AreNotEqual(0, publish.ExitCode, publish.Output);
        string? line = publish.Output.Split('\n').FirstOrDefault(l => l.Contains($"error {code}:", StringComparison.Ordinal));
        Assert.IsNotNull(line, $"no {code} in:\n{publish.Output}");
        return line;
    }

    [TestMethod]
    public void ABaseImageIsPulledByTagAndByDigestWithDockersCredentialsAndAPinnedPublishWorksOffline()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("skopeo") is not null, "skopeo (Debian package skopeo), to push the base image");
        string amd64 = DebianSysroots.Get("bookworm", "amd64", SysrootTests.Bookworm);
        string arm64 = DebianSysroots.Get("bookworm", "arm64", Arm64Packages, variant: "extract");
        using var work = new TempDirectory("ocibundle-registry-sysroot-");
        (string index, string amdManifest, string armManifest) = BaseLayout(work.Combine("base"), amd64, arm64);
        using var registry = new TestRegistry(tls: true, htpasswd: $"{User}:{Password}");
        ProcessResult pushed = TestEnvironment.RunCapture("skopeo", "copy", "--all", "--preserve-digests", "--dest-tls-verify=false", $"--dest-creds={User}:{Password}", $"oci:{work.Combine("base")}:12", $"docker://{registry.Host}/base/debian:12");
        Assert.AreEqual(0, pushed.ExitCode, pushed.All);

        string cache = work.Combine("cache");
        string docker = work.Combine("docker");
        Directory.CreateDirectory(docker);
        using TestProject project = TestProject.WithSdkElement("Based", $"<OciBundleSysrootCache>{cache}</OciBundleSysrootCache>", SysrootTests.AppArg);
        project.Environment["DOCKER_CONFIG"] = docker;
        project.Environment["SSL_CERT_FILE"] = registry.CaPath;
        string byTag = $"docker://{registry.Host}/base/debian:12";
        string[] Publish(string sysroot, params string[] more) => new[] { "-p:PublishOciBundle=true", "-p:PublishOciImage=true", $"-p:OciBundleSysroot={sysroot}" }.Concat(more).ToArray();

        // Credentials: none, then a wrong password, each its own code naming where they were looked for; never the secret.
        StringAssert.Contains(Error(project.Publish(expectSuccess: false, Publish(byTag)), "OCIB1625"), Path.Combine(docker, "config.json"));
        DockerConfig(docker, registry.Host, "wrong-" + Password);
        ProcessResult refused = project.Publish(expectSuccess: false, Publish(byTag));
        StringAssert.Contains(Error(refused, "OCIB1626"), Path.Combine(docker, "config.json"));
        Assert.IsFalse(refused.Output.Contains(Password, StringComparison.Ordinal), "no secret in the output");
        DockerConfig(docker, registry.Host, Password);

        // An unknown tag, an unknown repository.
        StringAssert.Contains(Error(project.Publish(expectSuccess: false, Publish($"docker://{registry.Host}/base/debian:13")), "OCIB1624"), "MANIFEST_UNKNOWN");
        StringAssert.Contains(Error(project.Publish(expectSuccess: false, Publish($"docker://{registry.Host}/base/nothing:12")), "OCIB1623"), "base/nothing");

        // By tag: the index's amd64 image; the bundle runs on its libraries, and says what the tag named.
        project.Publish(Publish(byTag));
        ProcessResult container = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, container.ExitCode, container.All);
        Dictionary<string, string> inside = SysrootTests.Lines(container.Output);
        StringAssert.StartsWith(inside["icu"], "libicuuc.so.72");
        StringAssert.Contains(inside["os"], "Debian GNU/Linux 12 (bookworm)");
        Assert.AreEqual("X64", inside["machine"]);
        SysrootTests.AssertHermetic(project.BundleDir, amd64, cache, project.Directory, project.PublishDir);
        JObject recorded = (JObject)SysrootTests.Provenance(project.BundleDir)["sysroot"]!;
        Assert.AreEqual("registry", (string?)recorded["form"]);
        Assert.AreEqual(amdManifest, (string?)recorded["digest"], "the platform's image");
        Assert.AreEqual($"docker://{registry.Host}/base/debian:12@{index}", (string?)recorded["source"], "what the tag resolved to");
        JToken annotations = ImageManifest(project)["annotations"]!;
        Assert.AreEqual($"{registry.Host}/base/debian:12", (string?)annotations["org.opencontainers.image.base.name"]);
        Assert.AreEqual(amdManifest, (string?)annotations["org.opencontainers.image.base.digest"]);
        JObject os = (JObject)SbomTests.Read(project.BundleDir)["packages"]!.Single(p => (string?)p["primaryPackagePurpose"] == "OPERATING_SYSTEM");
        StringAssert.Contains((string?)os["sourceInfo"], amdManifest, "the SBOM names the image the libraries came from");
        string rootfs = RootfsButSbom(project.BundleDir);

        // By digest: the same image, from the cache: no blob is fetched again.
        int blobGets = registry.SettledRequests().Count(r => r.Method == "GET" && r.Path.Contains("/blobs/", StringComparison.Ordinal));
        Assert.IsTrue(blobGets >= 2, $"the first pull fetched the config and the layer ({blobGets})");
        string byDigest = $"docker://{registry.Host}/base/debian@{index}";
        project.Publish(Publish(byDigest));
        Assert.AreEqual(blobGets, registry.SettledRequests().Count(r => r.Method == "GET" && r.Path.Contains("/blobs/", StringComparison.Ordinal)), "the cached image is not pulled again");
        Assert.AreEqual(amdManifest, (string?)SysrootTests.Provenance(project.BundleDir)["sysroot"]!["digest"]);
        Assert.AreEqual(rootfs, RootfsButSbom(project.BundleDir), "by tag and by digest, the same rootfs");
        Assert.AreEqual($"{registry.Host}/base/debian", (string?)ImageManifest(project)["annotations"]!["org.opencontainers.image.base.name"]);
        Assert.AreEqual(1, Directory.GetDirectories(cache).Count(d => !Path.GetFileName(d).StartsWith('.')), "one image unpacked once");

        // The registry stopped: a clean pinned publish works with no network, the same bytes; a tag says to pin.
        registry.Stop();
        Directory.Delete(Path.Combine(project.Directory, "bin"), recursive: true);
        Directory.Delete(Path.Combine(project.Directory, "obj"), recursive: true);
        project.Publish(Publish(byDigest));
        Assert.AreEqual(rootfs, RootfsButSbom(project.BundleDir), "offline, the same rootfs");
        ProcessResult pinned = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, pinned.ExitCode, pinned.All);
        string offline = Error(project.Publish(expectSuccess: false, Publish(byTag)), "OCIB1622");
        StringAssert.Contains(offline, "pin a digest to build offline");
        StringAssert.Contains(offline, index, "the digest the tag named on its last pull");
        Assert.IsTrue(File.Exists(Path.Combine(project.BundleDir, "config.json")), "the bundle stays");

        // -r linux-arm64: the index's arm64 image.
        registry.Start();
        project.Publish("-r", "linux-arm64", "-p:PublishOciBundle=true", $"-p:OciBundleSysroot={byTag}", "-p:OciBundleSeccomp=unconfined");
        string armBundle = Path.Combine(project.Directory, "bin", "Release", "net10.0", "linux-arm64", "oci-bundle");
        Assert.AreEqual(armManifest, (string?)SysrootTests.Provenance(armBundle)["sysroot"]!["digest"]);
        SysrootTests.AssertHermetic(armBundle, arm64, cache, project.Directory, Path.Combine(project.Directory, "bin", "Release", "net10.0", "linux-arm64", "publish"));
        TestEnvironment.Require(File.Exists("/proc/sys/fs/binfmt_misc/qemu-aarch64"), "qemu-user-static's binfmt handler for aarch64 (/proc/sys/fs/binfmt_misc/qemu-aarch64), to run the arm64 bundle");
        ProcessResult arm = Runc.RunAsRoot(armBundle);
        Assert.AreEqual(0, arm.ExitCode, arm.All);
        Dictionary<string, string> armInside = SysrootTests.Lines(arm.Output);
        Assert.AreEqual("Arm64", armInside["machine"]);
        StringAssert.StartsWith(armInside["icu"], "libicuuc.so.72");
    }
}
