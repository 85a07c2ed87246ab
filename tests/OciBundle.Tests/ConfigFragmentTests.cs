using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Request;
using OciBundle.Testing;
using OciBundle.Planning;

namespace OciBundle.Tests;

/// <summary>For each property and item, the exact config.json fragment it produces, through the real planner.</summary>
[TestClass]
public sealed class ConfigFragmentTests
{
    private static TempDirectory _dir = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _dir = new TempDirectory();
        Directory.CreateDirectory(_dir.Combine("publish"));
        File.WriteAllText(_dir.Combine("publish", "Hello"), "#!/bin/sh\n"); // an app host (not ELF: no closure needed)
        File.SetUnixFileMode(_dir.Combine("publish", "Hello"), (UnixFileMode)0b111_101_101);
    }

    [ClassCleanup]
    public static void Cleanup() => _dir.Dispose();

    private static JObject Config(Action<BundleOptions> change)
    {
        BundleOptions options = TargetDefaults.Options(_dir.Combine("publish"), _dir.Combine("bundle"), "Hello", "Hello");
        options.RuntimeIdentifier = "linux-x64";
        change(options);
        BundleRequest request = BundleRequest.Parse(options);
        BundleLayout layout = BundlePlanner.Plan(request, _ => { });
        return JObject.Parse(System.Text.Encoding.UTF8.GetString(layout.Config));
    }

    [TestMethod]
    public void ConfigJsonIsMadeForABundleAndNotForAnImageAlone()
    {
        // An image carries no config.json: an image-only publish does not make one; with a bundle beside it, it does.
        BundleOptions options = TargetDefaults.Options(_dir.Combine("publish"), _dir.Combine("bundle"), "Hello", "Hello");
        options.RuntimeIdentifier = "linux-x64";
        options.ImageDirectory = _dir.Combine("image");
        Assert.AreEqual("/app", (string?)JObject.Parse(System.Text.Encoding.UTF8.GetString(BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }).Config))["process"]!["cwd"]);
        options.WriteBundle = false;
        Assert.AreEqual(0, BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }).Config.Length);
    }

    private static string At(JObject config, string path) => config.SelectToken(path)!.ToString(Formatting.None);

    [TestMethod]
    public void Defaults() => Assert.AreEqual(
        """{"terminal":false,"user":{"uid":1654,"gid":1654},"args":["/app/Hello"],"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","DOTNET_RUNNING_IN_CONTAINER=true"],"cwd":"/app","capabilities":{"bounding":[],"effective":[],"inheritable":[],"permitted":[],"ambient":[]},"noNewPrivileges":true}""",
        At(Config(_ => { }), "process"));

    [TestMethod]
    public void DefaultsConfineTheRootAndTheSyscalls()
    {
        JObject config = Config(_ => { });
        Assert.AreEqual("""{"path":"rootfs","readonly":true}""", At(config, "root"));
        Assert.AreEqual("""{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev","mode=1777"]}""", config["mounts"]!.Last!.ToString(Formatting.None));
        JObject seccomp = (JObject)config["linux"]!["seccomp"]!;
        Assert.AreEqual("SCMP_ACT_ERRNO", (string)seccomp["defaultAction"]!);
        Assert.AreEqual("""["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"]""", At(config, "linux.seccomp.architectures"));
        var allowed = seccomp["syscalls"]!.Where(r => (string)r["action"]! == "SCMP_ACT_ALLOW" && r["args"] is null).SelectMany(r => r["names"]!.Values<string>()).ToHashSet();
        Assert.IsTrue(allowed.Contains("read") && allowed.Contains("futex") && !allowed.Contains("unshare") && !allowed.Contains("mount"));
        Assert.AreEqual("""["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"]""", At(config, "linux.maskedPaths"));
        Assert.AreEqual("""["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]""", At(config, "linux.readonlyPaths"));
    }

    [TestMethod]
    public void RootGetsRuncSpecsSetWithoutInheritableOrAmbient()
    {
        JObject config = Config(o => o.User = "root");
        Assert.AreEqual("""{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"inheritable":[],"permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"ambient":[]}""", At(config, "process.capabilities"));
    }

    [TestMethod]
    public void RootlessRootGetsNoCapabilitiesByDefault()
    {
        JObject config = Config(o => { o.Rootless = true; o.User = "0"; o.HostUid = "2001"; o.HostGid = "2002"; });
        Assert.AreEqual("""{"bounding":[],"effective":[],"inheritable":[],"permitted":[],"ambient":[]}""", At(config, "process.capabilities"));
    }

    [TestMethod]
    public void OciBundleSeccompUnconfinedWritesNoFilterAndCapabilitiesWidenTheDefaultOne()
    {
        Assert.IsNull(Config(o => o.Seccomp = "unconfined")["linux"]!["seccomp"]);
        JObject admin = Config(o => o.Capabilities = new List<string> { "CAP_SYS_ADMIN" });
        Assert.IsTrue(admin["linux"]!["seccomp"]!["syscalls"]!.Any(r => (string)r["action"]! == "SCMP_ACT_ALLOW" && r["names"]!.Values<string>().Contains("unshare")), "CAP_SYS_ADMIN allows unshare");
        Assert.AreEqual("""["SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"]""", At(Config(o => { o.RuntimeIdentifier = "linux-arm64"; o.Arch = "arm64"; }), "linux.seccomp.architectures"));
    }

    [TestMethod]
    public void OciBundleSeccompProfileFileIsResolvedIntoTheConfig()
    {
        string profile = _dir.Combine("profile.json");
        File.WriteAllText(profile, """{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}""");
        JObject config = Config(o => o.Seccomp = profile);
        Assert.AreEqual("SCMP_ACT_ERRNO", (string)config["linux"]!["seccomp"]!["defaultAction"]!);
        CollectionAssert.AreEqual(new[] { "read", "write" }, config["linux"]!["seccomp"]!["syscalls"]![0]!["names"]!.Values<string>().ToArray());
    }

    [TestMethod]
    public void OciBundleMaskedAndReadonlyPathsAddToTheDefaultsOrReplaceThem()
    {
        JObject added = Config(o => { o.MaskedPathItems = new List<string> { "/proc/cpuinfo", "/proc/kcore" }; o.ReadonlyPathItems = new List<string> { "/proc//sys/" }; });
        StringAssert.EndsWith(At(added, "linux.maskedPaths"), "\"/proc/scsi\",\"/proc/cpuinfo\"]");
        Assert.AreEqual("""["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]""", At(added, "linux.readonlyPaths"), "a path already listed is not listed twice");
        JObject cleared = Config(o => { o.MaskedPaths = new List<string> { "none" }; o.ReadonlyPaths = new List<string> { "NONE" }; o.ReadonlyPathItems = new List<string> { "/proc/sys" }; });
        Assert.AreEqual("[]", At(cleared, "linux.maskedPaths"));
        Assert.AreEqual("""["/proc/sys"]""", At(cleared, "linux.readonlyPaths"));
    }

    [TestMethod]
    public void AWebAppListensOnOciBundleHttpPortsUnlessItsEnvironmentSaysOtherwise()
    {
        StringAssert.EndsWith(At(Config(o => o.HttpPorts = "8080"), "process.env"), "\"DOTNET_RUNNING_IN_CONTAINER=true\",\"ASPNETCORE_HTTP_PORTS=8080\"]");
        StringAssert.EndsWith(At(Config(o => o.HttpPorts = "8080; 8081"), "process.env"), "\"ASPNETCORE_HTTP_PORTS=8080;8081\"]");
        Assert.IsFalse(At(Config(o => o.HttpPorts = "none"), "process.env").Contains("ASPNETCORE_HTTP_PORTS"));
        Assert.IsFalse(At(Config(_ => { }), "process.env").Contains("ASPNETCORE_HTTP_PORTS"), "not a web app: the targets pass no ports");
        Assert.IsFalse(At(Config(o => { o.HttpPorts = "8080"; o.Environment.Add(new("ASPNETCORE_URLS", "http://+:5000")); }), "process.env").Contains("ASPNETCORE_HTTP_PORTS"), "URLS wins over ports in ASP.NET Core");
        StringAssert.EndsWith(At(Config(o => { o.HttpPorts = "8080"; o.Environment.Add(new("ASPNETCORE_HTTP_PORTS", "5000")); }), "process.env"), "\"ASPNETCORE_HTTP_PORTS=5000\"]");
    }

    [TestMethod]
    public void ATmpfsMountPointHasTheModeAndOwnerItsOptionsGive()
    {
        // runc gives the tmpfs its mount point's mode and owner, so the mount point is made as the options ask.
        BundleOptions options = TargetDefaults.Options(_dir.Combine("publish"), _dir.Combine("bundle"), "Hello", "Hello");
        options.RuntimeIdentifier = "linux-x64";
        options.Mounts.Add(new MountOption { Destination = "/cache", Type = "tmpfs", Source = "tmpfs", Options = new List<string> { "nosuid", "size=16m", "mode=1777" } });
        options.Mounts.Add(new MountOption { Destination = "/work", Type = "tmpfs", Source = "tmpfs", Options = new List<string> { "uid=1654", "mode=0700" } });
        options.Mounts.Add(new MountOption { Destination = "/open", Type = "tmpfs", Source = "tmpfs", Options = new List<string> { "mode=0777" } });
        Model.RootfsPlan plan = BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }).Plan;
        Assert.IsTrue(plan.TryGet("/cache", out Model.RootfsEntry cache) && cache.Mode == (UnixFileMode)0b1_111_111_111 && cache.OwnerId is null);
        Assert.IsTrue(plan.TryGet("/work", out Model.RootfsEntry work) && work.Mode == (UnixFileMode)0b111_000_000 && work.OwnerId == 1654);
        Assert.IsTrue(plan.TryGet("/open", out Model.RootfsEntry open) && open.Mode == Model.RootfsPlan.DirectoryMode, "world-writable without the sticky bit: not in rootfs");
    }

    [TestMethod]
    public void OciBundleRlimitItems()
    {
        JObject config = Config(o => o.Rlimits = new List<RlimitOption>
        {
            new() { Type = "nofile", Soft = "65536", Hard = "1048576" },
            new() { Type = "RLIMIT_CORE", Soft = "0" },
            new() { Type = "memlock", Soft = "unlimited", Hard = "unlimited" },
        });
        Assert.AreEqual("""[{"type":"RLIMIT_CORE","hard":0,"soft":0},{"type":"RLIMIT_MEMLOCK","hard":18446744073709551615,"soft":18446744073709551615},{"type":"RLIMIT_NOFILE","hard":1048576,"soft":65536}]""", At(config, "process.rlimits"));
    }

    [TestMethod]
    public void OciBundleArgReplacesTheEntryPointInOrder() =>
        Assert.AreEqual("""["/app/Hello","--flag","two words"]""", At(Config(o => o.Args = new List<string> { "/app/Hello", "--flag", "two words" }), "process.args"));

    [TestMethod]
    public void OciBundleAppArgIsAppended() =>
        Assert.AreEqual("""["/app/Hello","--port","8080"]""", At(Config(o => o.AppArgs = new List<string> { "--port", "8080" }), "process.args"));

    [TestMethod]
    public void OciBundleReadOnlyFalseLeavesTheRootWritableWithoutATmpfs()
    {
        JObject config = Config(o => o.ReadOnly = false);
        Assert.AreEqual("""{"path":"rootfs","readonly":false}""", At(config, "root"));
        Assert.IsFalse(config["mounts"]!.Any(m => (string)m["destination"]! == "/tmp"));
    }

    [TestMethod]
    public void OciBundleMountComesAfterTheSystemMounts()
    {
        JObject config = Config(o => o.Mounts.Add(new MountOption { Destination = "/data", Source = "/var/lib/mydata", Options = new List<string> { "rbind", "ro" } }));
        Assert.AreEqual("""{"destination":"/data","type":"bind","source":"/var/lib/mydata","options":["rbind","ro"]}""", config["mounts"]!.Last!.ToString(Formatting.None));
        Assert.AreEqual(9, config["mounts"]!.Count(), "seven system mounts, the read-only root's /tmp, then the user's");
    }

    [TestMethod]
    public void OciBundleEnvironmentVariableAppendsAndReplacesInPlace() =>
        Assert.AreEqual("""["PATH=/opt/bin","DOTNET_RUNNING_IN_CONTAINER=true","GREETING=hello world"]""",
            At(Config(o => o.Environment = new List<KeyValuePair<string, string>> { new("GREETING", "hello world"), new("PATH", "/opt/bin") }), "process.env"));

    [TestMethod]
    public void OciBundleWorkingDirectoryMovesTheAppAndTheCwd()
    {
        JObject config = Config(o => o.WorkingDirectory = "/srv/hello");
        Assert.AreEqual("\"/srv/hello\"", At(config, "process.cwd"));
        Assert.AreEqual("""["/srv/hello/Hello"]""", At(config, "process.args"));
    }

    [TestMethod]
    public void OciBundleUserByIdsOrName()
    {
        Assert.AreEqual("""{"uid":1000,"gid":1001}""", At(Config(o => o.User = "1000:1001"), "process.user"));
        Assert.AreEqual("""{"uid":0,"gid":0}""", At(Config(o => o.User = "root"), "process.user"));
    }

    [TestMethod]
    public void OciBundleHostnameAndItsDefault()
    {
        Assert.AreEqual("\"api-1\"", At(Config(o => o.Hostname = "api-1"), "hostname"));
        Assert.AreEqual("\"hello\"", At(Config(_ => { }), "hostname"));
    }

    [TestMethod]
    public void OciBundleNetworkHostDropsTheNetworkNamespace() =>
        Assert.AreEqual("""[{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"}]""", At(Config(o => o.Network = "host"), "linux.namespaces"));

    [TestMethod]
    public void OciBundleRootlessMapsRootToTheHostIds()
    {
        JObject config = Config(o => { o.Rootless = true; o.User = "0"; o.HostUid = "2001"; o.HostGid = "2002"; });
        Assert.AreEqual("""[{"containerID":0,"hostID":2001,"size":1}]""", At(config, "linux.uidMappings"));
        Assert.AreEqual("""[{"containerID":0,"hostID":2002,"size":1}]""", At(config, "linux.gidMappings"));
        Assert.AreEqual("""{"uid":0,"gid":0}""", At(config, "process.user"));
        Assert.AreEqual("""{"type":"user"}""", config["linux"]!["namespaces"]!.Last!.ToString(Formatting.None));
    }

    [TestMethod]
    public void OciBundleSpecVersion() => Assert.AreEqual("\"1.0.0\"", At(Config(o => o.SpecVersion = "1.0.0"), "ociVersion"));

    [TestMethod]
    public void OciBundleCapabilitiesAndNoNewPrivileges()
    {
        JObject config = Config(o => { o.Capabilities = new List<string> { "NET_BIND_SERVICE" }; o.NoNewPrivileges = false; });
        Assert.AreEqual("""{"bounding":["CAP_NET_BIND_SERVICE"],"effective":["CAP_NET_BIND_SERVICE"],"inheritable":["CAP_NET_BIND_SERVICE"],"permitted":["CAP_NET_BIND_SERVICE"],"ambient":["CAP_NET_BIND_SERVICE"]}""", At(config, "process.capabilities"));
        Assert.AreEqual("false", At(config, "process.noNewPrivileges"));
    }

    [TestMethod]
    public void OciBundleArchAndOSAreNeverWrittenAsPlatform()
    {
        JObject config = Config(o => { o.Arch = "x86_64"; o.OS = "linux"; });
        Assert.IsNull(config["platform"]);
        CollectionAssert.AreEqual(new[] { "ociVersion", "process", "root", "hostname", "mounts", "linux" }, config.Properties().Select(p => p.Name).ToArray());
    }

    [TestMethod]
    public void TheSameInputsGiveByteIdenticalConfigs()
    {
        BundleOptions options = TargetDefaults.Options(_dir.Combine("publish"), _dir.Combine("bundle"), "Hello", "Hello");
        byte[] a = BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }).Config;
        byte[] b = BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }).Config;
        CollectionAssert.AreEqual(a, b);
    }
}
