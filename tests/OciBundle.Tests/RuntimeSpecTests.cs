using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Request;
using OciBundle.RuntimeSpec;
using OciBundle.Testing;
using OciBundle.SeccompProfiles;

namespace OciBundle.Tests;

[TestClass]
public sealed class RuntimeSpecTests
{
    private static JObject Build(RuntimeSpecBuilder.Input input) => JObject.Parse(Encoding.UTF8.GetString(RuntimeSpecBuilder.Write(input)));

    /// <summary>What the planner gives for the targets' defaults.</summary>
    private static RuntimeSpecBuilder.Input Default => new()
    {
        SpecVersion = TargetDefaults.Of("OciBundleSpecVersion"),
        Args = new[] { "/app/Hello" },
        Environment = Array.Empty<KeyValuePair<string, string>>(),
        Cwd = TargetDefaults.Of("OciBundleWorkingDirectory"),
        Uid = uint.Parse(TargetDefaults.Of("OciBundleUser"), System.Globalization.CultureInfo.InvariantCulture),
        Gid = uint.Parse(TargetDefaults.Of("OciBundleUser"), System.Globalization.CultureInfo.InvariantCulture),
        Hostname = "app",
        ReadOnly = bool.Parse(TargetDefaults.Of("OciBundleReadOnly")),
        Rootless = null,
        HostNetwork = false,
        Mounts = Array.Empty<MountSpec>(),
        Capabilities = CapabilitySets.For(Array.Empty<string>(), root: false, isDefault: true),
        NoNewPrivileges = bool.Parse(TargetDefaults.Of("OciBundleNoNewPrivileges")),
        Rlimits = Array.Empty<RlimitSpec>(),
        Seccomp = null,
        MaskedPaths = TargetDefaults.Of("OciBundleMaskedPaths").Split(';'),
        ReadonlyPaths = TargetDefaults.Of("OciBundleReadonlyPaths").Split(';'),
    };

    private static SeccompFilter DefaultSeccomp(string arch) => SeccompProfile.Default(arch, Array.Empty<string>());

    [TestMethod]
    public void DefaultConfigIsExactlyThis()
    {
        // Exactly this, but for linux.seccomp (its own tests, below and in SeccompProfileTests).
        byte[] bytes = RuntimeSpecBuilder.Write(Default with
        {
            Args = new[] { "/app/Hello", "two words" },
            Environment = new[] { new KeyValuePair<string, string>("PATH", RuntimeSpecBuilder.DefaultPath), new KeyValuePair<string, string>("DOTNET_RUNNING_IN_CONTAINER", "true") },
            Hostname = "hello",
        });

        string expected = """
{
  "ociVersion": "1.3.0",
  "process": {
    "terminal": false,
    "user": {
      "uid": 1654,
      "gid": 1654
    },
    "args": [
      "/app/Hello",
      "two words"
    ],
    "env": [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "DOTNET_RUNNING_IN_CONTAINER=true"
    ],
    "cwd": "/app",
    "capabilities": {
      "bounding": [],
      "effective": [],
      "inheritable": [],
      "permitted": [],
      "ambient": []
    },
    "noNewPrivileges": true
  },
  "root": {
    "path": "rootfs",
    "readonly": true
  },
  "hostname": "hello",
  "mounts": [
    {
      "destination": "/proc",
      "type": "proc",
      "source": "proc"
    },
    {
      "destination": "/dev",
      "type": "tmpfs",
      "source": "tmpfs",
      "options": [
        "nosuid",
        "strictatime",
        "mode=755",
        "size=65536k"
      ]
    },
    {
      "destination": "/dev/pts",
      "type": "devpts",
      "source": "devpts",
      "options": [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
        "gid=5"
      ]
    },
    {
      "destination": "/dev/shm",
      "type": "tmpfs",
      "source": "shm",
      "options": [
        "nosuid",
        "noexec",
        "nodev",
        "mode=1777",
        "size=65536k"
      ]
    },
    {
      "destination": "/dev/mqueue",
      "type": "mqueue",
      "source": "mqueue",
      "options": [
        "nosuid",
        "noexec",
        "nodev"
      ]
    },
    {
      "destination": "/sys",
      "type": "sysfs",
      "source": "sysfs",
      "options": [
        "nosuid",
        "noexec",
        "nodev",
        "ro"
      ]
    },
    {
      "destination": "/sys/fs/cgroup",
      "type": "cgroup",
      "source": "cgroup",
      "options": [
        "nosuid",
        "noexec",
        "nodev",
        "relatime",
        "ro"
      ]
    },
    {
      "destination": "/tmp",
      "type": "tmpfs",
      "source": "tmpfs",
      "options": [
        "nosuid",
        "nodev",
        "mode=1777"
      ]
    }
  ],
  "linux": {
    "namespaces": [
      {
        "type": "pid"
      },
      {
        "type": "network"
      },
      {
        "type": "mount"
      },
      {
        "type": "ipc"
      },
      {
        "type": "uts"
      }
    ],
    "maskedPaths": [
      "/proc/acpi",
      "/proc/asound",
      "/proc/kcore",
      "/proc/keys",
      "/proc/latency_stats",
      "/proc/timer_list",
      "/proc/timer_stats",
      "/proc/sched_debug",
      "/sys/firmware",
      "/proc/scsi"
    ],
    "readonlyPaths": [
      "/proc/bus",
      "/proc/fs",
      "/proc/irq",
      "/proc/sys",
      "/proc/sysrq-trigger"
    ]
  }
}

""".Replace("\r\n", "\n");
        Assert.AreEqual(expected, Encoding.UTF8.GetString(bytes));
        Assert.IsFalse(bytes.AsSpan().StartsWith(new byte[] { 0xEF, 0xBB, 0xBF }), "no BOM");
    }

    [TestMethod]
    public void RootlessAddsUserNamespaceMappingsAndAdaptsMounts()
    {
        JObject spec = Build(Default with { Rootless = new RootlessSpec(2001, 2002), Uid = 0, Gid = 0 });

        Assert.AreEqual("""[{"containerID":0,"hostID":2001,"size":1}]""", spec["linux"]!["uidMappings"]!.ToString(Newtonsoft.Json.Formatting.None));
        Assert.AreEqual("""[{"containerID":0,"hostID":2002,"size":1}]""", spec["linux"]!["gidMappings"]!.ToString(Newtonsoft.Json.Formatting.None));
        CollectionAssert.Contains(spec["linux"]!["namespaces"]!.Select(n => (string)n["type"]!).ToList(), "user");
        var mounts = spec["mounts"]!.ToList();
        Assert.IsFalse(mounts.Any(m => (string)m["type"]! == "cgroup"), "no cgroup mount");
        Assert.AreEqual("""{"destination":"/sys","type":"none","source":"/sys","options":["rbind","nosuid","noexec","nodev","ro"]}""",
            mounts.Single(m => (string)m["destination"]! == "/sys").ToString(Newtonsoft.Json.Formatting.None));
        Assert.IsFalse(mounts.SelectMany(m => m["options"]?.Values<string>() ?? Enumerable.Empty<string>()).Any(o => o!.StartsWith("gid=")), "no gid= options");
    }

    [TestMethod]
    public void ReadOnlyRootGetsATmpfsTmpAndUserMountsComeLastInOrder()
    {
        JObject spec = Build(Default with
        {
            ReadOnly = true,
            Mounts = new[]
            {
                new MountSpec("/data", "bind", "/var/lib/mydata", new[] { "rbind", "ro" }),
                new MountSpec("/cache", "tmpfs", "tmpfs", Array.Empty<string>()),
            },
        });

        Assert.IsTrue((bool)spec["root"]!["readonly"]!);
        var destinations = spec["mounts"]!.Select(m => (string)m["destination"]!).ToList();
        CollectionAssert.AreEqual(new[] { "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/tmp", "/data", "/cache" }, destinations);
        Assert.AreEqual("""{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev","mode=1777"]}""", spec["mounts"]![7]!.ToString(Newtonsoft.Json.Formatting.None));
    }

    [TestMethod]
    public void HostNetworkDropsTheNetworkNamespaceAndNoPlatformIsEverWritten()
    {
        JObject spec = Build(Default with { HostNetwork = true });
        CollectionAssert.AreEqual(new[] { "pid", "mount", "ipc", "uts" }, spec["linux"]!["namespaces"]!.Select(n => (string)n["type"]!).ToArray());
        Assert.IsNull(spec["platform"]);
    }

    [TestMethod]
    [DataRow("1.0.0")]
    [DataRow("1.2.1")]
    [DataRow("1.3.0")]
    public void ConfigsOfEverySupportedVersionValidateAgainstTheirSchema(string version)
    {
        using var dir = new TempDirectory();
        foreach ((string name, RuntimeSpecBuilder.Input input) in new[]
        {
            ("default", Default with { SpecVersion = version, Args = new[] { "/app/x" }, Seccomp = DefaultSeccomp("amd64") }),
            ("arm64", Default with { SpecVersion = version, Args = new[] { "/app/x" }, Seccomp = DefaultSeccomp("arm64") }),
            ("hardening", Default with
            {
                SpecVersion = version, Args = new[] { "/app/x" }, Seccomp = DefaultSeccomp("amd64"),
                Capabilities = CapabilitySets.For(new[] { "CAP_NET_BIND_SERVICE" }, root: false, isDefault: false),
                Rlimits = new[] { new RlimitSpec("RLIMIT_NOFILE", 65536, 65536), new RlimitSpec("RLIMIT_CORE", 0, RlimitSpec.Unlimited) },
                MaskedPaths = Array.Empty<string>(), ReadonlyPaths = new[] { "/proc/sys" },
            }),
            ("rootless", Default with { SpecVersion = version, Args = new[] { "/app/x" }, Rootless = new RootlessSpec(1000, 1000), Uid = 0, Gid = 0, ReadOnly = true }),
            ("mounts", Default with { SpecVersion = version, Args = new[] { "/bin/sh", "-c", "echo" }, HostNetwork = true,
                Mounts = new[] { new MountSpec("/data", "bind", "/srv", new[] { "rbind", "ro" }) } }),
            ("volume", Default with { SpecVersion = version, Args = new[] { "/app/x" },
                Mounts = new[] { new VolumeSpec("/data", "/src/bin/oci-bundle.volumes/data", "../oci-bundle.volumes/data", false).Mount! } }),
        })
        {
            string path = Path.Combine(dir.Path, name + ".json");
            File.WriteAllBytes(path, RuntimeSpecBuilder.Write(input));
            Assert.AreEqual("", SchemaValidator.Validate(version, path), $"{name} config of {version}");
        }
    }

    [TestMethod]
    [DataRow("1.0.0")]
    [DataRow("1.2.1")]
    [DataRow("1.3.0")]
    public void TheValidatorTellsTheSpecsOwnGoodExamplesFromTheBadOnes(string version)
    {
        string tests = TestEnvironment.RequireShared("oci-runtime-spec", "v" + version, "schema", "test", "config");
        string[] good = Directory.GetFiles(Path.Combine(tests, "good"), "*.json");
        string[] bad = Directory.GetFiles(Path.Combine(tests, "bad"), "*.json");
        Assert.IsTrue(good.Length > 0 && bad.Length > 0, "the spec ships good and bad examples");
        foreach (string file in good)
        {
            Assert.AreEqual("", SchemaValidator.Validate(version, file), file);
        }

        foreach (string file in bad)
        {
            Assert.AreNotEqual("", SchemaValidator.Validate(version, file), $"{file} is a bad example and must not validate");
        }
    }
}
