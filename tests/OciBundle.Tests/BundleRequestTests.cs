using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Diagnostics;
using OciBundle.Request;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>Every misconfiguration gives its own code, and nothing is written when one is found.</summary>
[TestClass]
public sealed class BundleRequestTests
{
    private static TempDirectory _dir = null!;
    private static string _publish = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _dir = new TempDirectory();
        _publish = _dir.Combine("proj", "bin", "publish");
        Directory.CreateDirectory(_publish);
        Directory.CreateDirectory(_dir.Combine("proj", "obj"));
        Directory.CreateDirectory(_dir.Combine("deploy"));
        File.WriteAllText(_dir.Combine("deploy", "deploy.sh"), "echo deploy\n");
        File.WriteAllText(_dir.Combine("deploy", "prod.env"), "TOKEN=1\n");
        File.WriteAllText(_dir.Combine("a-file"), "not a folder\n");
        File.CreateSymbolicLink(_dir.Combine("a-link"), _dir.Combine("deploy"));
        File.CreateSymbolicLink(_dir.Combine("proj-link"), _dir.Combine("proj"));
        Directory.CreateDirectory(_dir.Combine("empty"));
    }

    [ClassCleanup]
    public static void Cleanup() => _dir.Dispose();

    private static BundleOptions Valid()
    {
        BundleOptions options = TargetDefaults.Options(_publish, _dir.Combine("proj", "bin", "oci-bundle"), "Hello");
        options.ProjectDirectory = _dir.Combine("proj");
        options.RuntimeIdentifier = "linux-x64";
        options.ProtectedDirectories = new List<string> { _dir.Combine("proj", "obj"), _dir.Combine("proj", "bin") };
        return options;
    }

    /// <summary>The parse step; its errors added to <paramref name="errors"/>, null when there were any.</summary>
    private static BundleRequest Validate(BundleOptions options, List<OciBundleException> errors)
    {
        try
        {
            return BundleRequest.Parse(options);
        }
        catch (BundleValidationException e)
        {
            errors.AddRange(e.Errors);
            return null!;
        }
    }

    private static List<string> Codes(Action<BundleOptions> change)
    {
        BundleOptions options = Valid();
        change(options);
        var errors = new List<OciBundleException>();
        Validate(options, errors);
        return errors.Select(e => e.Code).ToList();
    }

    [TestMethod]
    public void ValidOptionsHaveNoErrorsAndTheDocumentedDefaults()
    {
        var errors = new List<OciBundleException>();
        BundleRequest request = Validate(Valid(), errors);
        Assert.AreEqual(0, errors.Count, string.Join("\n", errors.Select(e => e.Message)));
        Assert.AreEqual("amd64", request.Content.Arch.GoArch);
        Assert.AreEqual("1.3.0", request.Isolation.SpecVersion);
        Assert.AreEqual(1654u, request.Process.User.Uid);
        Assert.AreEqual("hello", request.Isolation.Hostname);
        Assert.AreEqual("/app", request.Process.WorkingDirectory);
    }

    [TestMethod]
    [DataRow("OCIB1001", "rid:win-x64")]
    [DataRow("OCIB1003", "os:windows")]
    [DataRow("OCIB1004", "arch:sparc")]
    [DataRow("OCIB1006", "arch:arm64")]
    [DataRow("OCIB1010", "args:")]
    [DataRow("OCIB1020", "mount:data|bind|/srv|rbind")]
    [DataRow("OCIB1021", "mount:/data/../etc|bind|/srv|rbind")]
    [DataRow("OCIB1022", "mount:/data|||ro")]
    [DataRow("OCIB1023", "mount:/data|bind|srv|rbind")]
    [DataRow("OCIB1030", "env:1BAD")]
    [DataRow("OCIB1030", "env:A=B")]
    [DataRow("OCIB1040", "user:12:ab:c")]
    [DataRow("OCIB1041", "user:nobody")]
    [DataRow("OCIB1042", "rootless-user:1654")]
    [DataRow("OCIB1050", "hostname:-bad-")]
    [DataRow("OCIB1060", "spec:1.1.7")]
    [DataRow("OCIB1070", "cwd:app")]
    [DataRow("OCIB1071", "cwd:/etc")]
    [DataRow("OCIB1080", "bundledir:project")]
    [DataRow("OCIB1080", "bundledir:contains-publish")]
    [DataRow("OCIB1081", "bundledir:inside-publish")]
    [DataRow("OCIB1090", "file:/etc/hostname|/../outside")]
    [DataRow("OCIB1091", "file:/no/such/file|/x")]
    [DataRow("OCIB1100", "sysroot:/no/such/sysroot")]
    [DataRow("OCIB1110", "network:bridge")]
    [DataRow("OCIB1120", "hostuid:me")]
    [DataRow("OCIB1008", "missing:WorkingDirectory")]
    [DataRow("OCIB1008", "missing:User")]
    [DataRow("OCIB1008", "missing:OS")]
    [DataRow("OCIB1008", "missing:SpecVersion")]
    [DataRow("OCIB1008", "missing:Network")]
    [DataRow("OCIB1008", "missing:Sysroot")]
    [DataRow("OCIB1008", "missing:Capabilities")]
    [DataRow("OCIB1008", "missing:SourceDateEpoch")]
    [DataRow("OCIB1009", "epoch:yesterday")]
    [DataRow("OCIB1009", "epoch:253402300800")]
    [DataRow("OCIB1024", "mount:/|tmpfs|tmpfs|")]
    [DataRow("OCIB1024", "mount:/app|tmpfs|tmpfs|")]
    [DataRow("OCIB1024", "mount:/proc/sys|bind|/srv|rbind")]
    [DataRow("OCIB1024", "mount:/dev|tmpfs|tmpfs|")]
    [DataRow("OCIB1032", "longenv:131067")]
    [DataRow("OCIB1032", "longarg:131072")]
    [DataRow("OCIB1043", "user:4294967295")]
    [DataRow("OCIB1043", "user:1000:4294967295")]
    [DataRow("OCIB1043", "hostuid:4294967295")]
    [DataRow("OCIB1071", "cwd:/proc/self")]
    [DataRow("OCIB1071", "cwd:/dev/shm/app")]
    [DataRow("OCIB1071", "cwd:/sys/app")]
    [DataRow("OCIB1071", "cwd:/lib64")]
    [DataRow("OCIB1080", "bundledir:/run/user")]
    [DataRow("OCIB1080", "bundledir:/etc/myapp")]
    [DataRow("OCIB1080", "bundledir:/home/someone")]
    [DataRow("OCIB1080", "bundledir:linked-obj")]
    [DataRow("OCIB1080", "bundledir:/etc")]
    [DataRow("OCIB1080", "bundledir:/usr")]
    [DataRow("OCIB1080", "bundledir:/var/lib")]
    [DataRow("OCIB1080", "bundledir:/home")]
    [DataRow("OCIB1080", "bundledir:obj")]
    [DataRow("OCIB1083", "bundledir:deploy")]
    [DataRow("OCIB1084", "bundledir:a-file")]
    [DataRow("OCIB1084", "bundledir:a-link")]
    [DataRow("OCIB1083", "imagedir:deploy")]
    [DataRow("OCIB1080", "imagedir:/etc")]
    [DataRow("OCIB1080", "imagedir:same-as-bundle")]
    [DataRow("OCIB1085", "archive:a-file")]
    [DataRow("OCIB1400", "registry:https://registry.example.com")]
    [DataRow("OCIB1400", "registry:registry.example.com/team")]
    [DataRow("OCIB1400", "registry:host:99999")]
    [DataRow("OCIB1401", "repository:MyApp")]
    [DataRow("OCIB1401", "repository:team//app")]
    [DataRow("OCIB1401", "repository:-app")]
    [DataRow("OCIB1085", "archive:deploy")]
    [DataRow("OCIB1085", "archive:inside-image")]
    [DataRow("OCIB1008", "missing:Seccomp")]
    [DataRow("OCIB1161", "caps:none;CAP_KILL")]
    [DataRow("OCIB1161", "caps:default;NET_BIND_SERVICE")]
    [DataRow("OCIB1170", "seccomp:/no/such/profile.json")]
    [DataRow("OCIB1170", "seccomp:/etc")]
    [DataRow("OCIB1171", "seccomp-text:not json")]
    [DataRow("OCIB1171", "seccomp-text:{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_AARCH64\"]}")]
    [DataRow("OCIB1171", "seccomp-text:{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultAction\":\"SCMP_ACT_ALLOW\"}")]
    [DataRow("OCIB1180", "masked:proc/kcore")]
    [DataRow("OCIB1180", "masked:/proc/../etc")]
    [DataRow("OCIB1180", "masked:/")]
    [DataRow("OCIB1180", "masked:none")]
    [DataRow("OCIB1180", "readonly-prop:none;/proc/sys")]
    [DataRow("OCIB1190", "rlimit:NOFILES|1|1")]
    [DataRow("OCIB1191", "rlimit:NOFILE|10|5")]
    [DataRow("OCIB1191", "rlimit:NOFILE|lots|")]
    [DataRow("OCIB1191", "rlimit:NOFILE||10")]
    [DataRow("OCIB1191", "rlimit:NOFILE|-1|")]
    [DataRow("OCIB1192", "rlimit-twice:nofile")]
    [DataRow("OCIB1191", "rlimit:NOFILE|unlimited|")]
    [DataRow("OCIB1171", "seccomp-100:{\"defaultAction\":\"SCMP_ACT_LOG\"}")]
    [DataRow("OCIB1008", "missing:RootCapabilities")]
    [DataRow("OCIB1160", "rootcaps:CAP_TELEPORT")]
    [DataRow("OCIB1210", "httpports:80a")]
    [DataRow("OCIB1211", "httpports:80")]
    [DataRow("OCIB1211", "httpports:8080;443")]
    [DataRow("OCIB1171", "seccomp-text:{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}")]
    [DataRow("OCIB1180", "masked:/app")]
    [DataRow("OCIB1210", "httpports:0")]
    [DataRow("OCIB1210", "httpports:65536")]
    public void EachMistakeGetsItsOwnCode(string code, string mistake)
    {
        string value = mistake[(mistake.IndexOf(':') + 1)..];
        List<string> codes = Codes(o =>
        {
            switch (mistake[..mistake.IndexOf(':')])
            {
                case "rid": o.RuntimeIdentifier = value; break;
                case "os": o.OS = value; break;
                case "arch": o.Arch = value; break;
                case "args": o.Args = new List<string> { " " }; break;
                case "mount":
                    string[] p = value.Split('|');
                    o.Mounts.Add(new MountOption { Destination = p[0], Type = p[1], Source = p[2], Options = p[3].Split(';').ToList() });
                    break;
                case "env": o.Environment.Add(new(value, "x")); break;
                case "user": o.User = value; break;
                case "rootless-user": o.Rootless = true; o.User = value; o.HostUid = "1000"; break;
                case "missing": typeof(BundleOptions).GetProperty(value)!.SetValue(o, null); break;
                case "hostname": o.Hostname = value; break;
                case "spec": o.SpecVersion = value; break;
                case "cwd": o.WorkingDirectory = value; break;
                case "bundledir":
                    o.BundleDirectory = value switch
                    {
                        "project" => _dir.Combine("proj"),
                        "contains-publish" => _dir.Combine("proj", "bin"),
                        "inside-publish" => Path.Combine(_publish, "oci-bundle"),
                        "obj" => _dir.Combine("proj", "obj"),
                        "deploy" or "a-file" or "a-link" => _dir.Combine(value),
                        "linked-obj" => _dir.Combine("proj-link", "obj"), // obj/ through a symlink to the project
                        _ => value,
                    };
                    break;
                case "file": o.Files.Add(new FileOption { Source = value.Split('|')[0], TargetPath = value.Split('|')[1] }); break;
                case "sysroot": o.Sysroot = value; break;
                case "network": o.Network = value; break;
                case "hostuid": o.HostUid = value; break;
                case "epoch": o.SourceDateEpoch = value; break;
                case "caps": o.Capabilities = value.Split(';').ToList(); break;
                case "seccomp": o.Seccomp = value; break;
                case "seccomp-text":
                    File.WriteAllText(_dir.Combine("profile.json"), value);
                    o.Seccomp = _dir.Combine("profile.json");
                    break;
                case "seccomp-100":
                    File.WriteAllText(_dir.Combine("profile.json"), value);
                    o.Seccomp = _dir.Combine("profile.json");
                    o.SpecVersion = "1.0.0";
                    break;
                case "rootcaps": o.RootCapabilities = new List<string> { value }; break;
                case "httpports": o.HttpPorts = value; break;
                case "masked": o.MaskedPathItems.Add(value); break;
                case "readonly-prop": o.ReadonlyPaths = value.Split(';').ToList(); break;
                case "rlimit": o.Rlimits.Add(new RlimitOption { Type = value.Split('|')[0], Soft = value.Split('|')[1], Hard = value.Split('|')[2] }); break;
                case "rlimit-twice":
                    o.Rlimits.Add(new RlimitOption { Type = value, Soft = "1024" });
                    o.Rlimits.Add(new RlimitOption { Type = "RLIMIT_" + value.ToUpperInvariant(), Soft = "2048" });
                    break;
                case "longenv": o.Environment.Add(new("LONG", new string('x', int.Parse(value)))); break;
                case "longarg": o.AppArgs.Add(new string('x', int.Parse(value))); break;
                case "imagedir":
                    o.ImageDirectory = value switch { "same-as-bundle" => o.BundleDirectory, "deploy" => _dir.Combine("deploy"), _ => value };
                    break;
                case "registry":
                    o.ImageDirectory = _dir.Combine("proj", "bin", "oci-image");
                    o.ImageRegistry = value;
                    break;
                case "repository":
                    o.ImageDirectory = _dir.Combine("proj", "bin", "oci-image");
                    o.ImageRepository = value;
                    break;
                case "archive":
                    o.ImageDirectory = _dir.Combine("proj", "bin", "oci-image");
                    o.ImageArchive = value == "inside-image" ? _dir.Combine("proj", "bin", "oci-image", "image.tar") : _dir.Combine(value);
                    break;
            }
        });

        CollectionAssert.AreEqual(new[] { code }, codes, $"{mistake} gave {string.Join(", ", codes)}");
    }

    [TestMethod]
    public void TheImageIsNamedByRegistryRepositoryAndTag()
    {
        BundleOptions options = Valid();
        options.ImageDirectory = _dir.Combine("proj", "bin", "oci-image");
        Assert.AreEqual($"localhost/{TargetDefaults.RepositoryOf(options.AppName)}:latest", BundleRequest.Parse(options).Output.Image!.FullName, "no registry: podman's local name");
        options.ImageRegistry = "127.0.0.1:5000";
        options.ImageRepository = "team/my-app";
        options.ImageTag = "1.0";
        Assert.AreEqual("127.0.0.1:5000/team/my-app:1.0", BundleRequest.Parse(options).Output.Image!.FullName);
        Assert.AreEqual("my-app-2", TargetDefaults.RepositoryOf("My.App 2"), "the default is a valid repository");
    }

    [TestMethod]
    public void AliasesOfArchitecturesAreNormalisedWithAWarning()
    {
        var errors = new List<OciBundleException>();
        BundleOptions options = Valid();
        options.Arch = "x86_64";
        BundleRequest request = Validate(options, errors);
        Assert.AreEqual(0, errors.Count);
        Assert.AreEqual("amd64", request.Content.Arch.GoArch);
        Assert.AreEqual("OCIB1005", request.Warnings.Single().Code);
        StringAssert.Contains(request.Warnings.Single().Message, "<OciBundleArch>amd64</OciBundleArch>");
    }

    [TestMethod]
    [DataRow("My.Fancy_App", "my-fancy-app")]
    [DataRow("___", "app")]
    [DataRow("Hello", "hello")]
    public void HostnameDefaultsToTheProjectNameMadeValid(string name, string hostname) =>
        Assert.AreEqual(hostname, HostnameSpec.FromName(name));

    [TestMethod]
    public void CapabilitiesAreNormalisedAndUnknownOnesRefused()
    {
        var errors = new List<OciBundleException>();
        BundleOptions options = Valid();
        options.Capabilities = new List<string> { "net_bind_service", "CAP_KILL", "CAP_KILL" };
        CapabilitySets sets = Validate(options, errors).Process.Capabilities;
        foreach (IReadOnlyList<string> set in new[] { sets.Bounding, sets.Effective, sets.Permitted, sets.Inheritable, sets.Ambient })
        {
            CollectionAssert.AreEqual(new[] { "CAP_KILL", "CAP_NET_BIND_SERVICE" }, set.ToArray(), "a non-root user keeps a capability only in all five sets");
        }

        options.Capabilities = new List<string> { "none" };
        Assert.AreEqual(0, Validate(options, errors).Process.Capabilities.Effective.Count);

        options.Capabilities = new List<string> { "CAP_TELEPORT" };
        Validate(options, errors);
        Assert.AreEqual("OCIB1160", errors.Single().Code);
        StringAssert.Contains(errors.Single().Message, "'CAP_TELEPORT'");
    }

    [TestMethod]
    [DataRow("1654", false, "none")]
    [DataRow("app", false, "none")]
    [DataRow("0", false, "CAP_AUDIT_WRITE,CAP_KILL,CAP_NET_BIND_SERVICE")]
    [DataRow("root", false, "CAP_AUDIT_WRITE,CAP_KILL,CAP_NET_BIND_SERVICE")]
    [DataRow("0", true, "none")]
    public void DefaultCapabilitiesDependOnTheUser(string user, bool rootless, string expected)
    {
        var errors = new List<OciBundleException>();
        BundleOptions options = Valid();
        options.User = user;
        options.Rootless = rootless;
        options.HostUid = rootless ? "2001" : null;
        options.Capabilities = new List<string> { "default" };
        CapabilitySets sets = Validate(options, errors).Process.Capabilities;
        Assert.AreEqual(expected, sets.Effective.Count == 0 ? "none" : string.Join(",", sets.Effective));
        Assert.IsNull(sets.Violation());
        Assert.AreEqual(0, sets.Ambient.Count, "root gets its capabilities from bounding at execve, never through ambient");
    }

    [TestMethod]
    public void TheKernelsRulesForCapabilitySetsAreChecked()
    {
        var caps = new[] { "CAP_NET_BIND_SERVICE" };
        var none = Array.Empty<string>();
        Assert.IsNull(CapabilitySets.For(caps, root: false, isDefault: false).Violation());
        Assert.IsNull(CapabilitySets.For(caps, root: true, isDefault: false).Violation());
        Assert.AreEqual("CAP_NET_BIND_SERVICE in ambient but not in inheritable", new CapabilitySets(caps, caps, caps, none, caps, false).Violation(), "the flaw of 1.0's config");
        Assert.AreEqual("CAP_NET_BIND_SERVICE in effective but not in permitted", new CapabilitySets(caps, caps, none, none, none, false).Violation());
        Assert.AreEqual("CAP_NET_BIND_SERVICE in permitted but not in bounding", new CapabilitySets(none, caps, caps, none, none, false).Violation());
    }

    [TestMethod]
    public void RiskySettingsEachGetTheirOwnWarning()
    {
        static string[] Warnings(Action<BundleOptions> change)
        {
            BundleOptions options = Valid();
            change(options);
            return BundleRequest.Parse(options).Warnings.Select(w => w.Code).ToArray();
        }

        CollectionAssert.AreEqual(Array.Empty<string>(), Warnings(_ => { }), "the defaults warn of nothing");
        CollectionAssert.AreEqual(Array.Empty<string>(), Warnings(o => o.Capabilities = new List<string> { "CAP_NET_BIND_SERVICE" }));
        CollectionAssert.AreEqual(Array.Empty<string>(), Warnings(o => { o.Rootless = true; o.User = "0"; o.HostUid = "2001"; }), "root in a user namespace is the host user");
        CollectionAssert.AreEqual(new[] { "OCIB3010" }, Warnings(o => o.User = "root"));
        CollectionAssert.AreEqual(new[] { "OCIB3011" }, Warnings(o => o.Capabilities = new List<string> { "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN" }));
        CollectionAssert.AreEqual(new[] { "OCIB3012" }, Warnings(o => o.NoNewPrivileges = false));
        CollectionAssert.AreEqual(new[] { "OCIB3013" }, Warnings(o => o.Seccomp = "unconfined"));
        CollectionAssert.AreEqual(new[] { "OCIB3014" }, Warnings(o => o.Network = "host"));
        foreach (string source in new[] { "/", "/proc", "/sys/fs/cgroup", "/dev", "//proc/", "/run/docker.sock", "/var/run/docker.sock", "/run", "/var/run", "/run/containerd", "/run/user", "/run/user/1000", "/run/user/1000/docker.sock", "/run/user/1000/podman" })
        {
            CollectionAssert.AreEqual(new[] { "OCIB3015" }, Warnings(o => o.Mounts.Add(new MountOption { Destination = "/host", Type = "bind", Source = source, Options = new List<string> { "rbind", "ro" } })), source);
        }

        // runc spec's own bind form, with no "bind" type: still a bind of the host's /proc.
        CollectionAssert.AreEqual(new[] { "OCIB3015" }, Warnings(o => o.Mounts.Add(new MountOption { Destination = "/hp", Type = "none", Source = "/proc", Options = new List<string> { "rbind" } })));
        CollectionAssert.AreEqual(Array.Empty<string>(), Warnings(o => o.Mounts.Add(new MountOption { Destination = "/host", Type = "bind", Source = "/run/user/1000/app-data", Options = new List<string> { "rbind" } })), "a user's own data under /run/user");
        CollectionAssert.AreEqual(new[] { "OCIB3016" }, Warnings(o => o.MaskedPaths = new List<string> { "none" }));
        CollectionAssert.AreEqual(new[] { "OCIB3016", "OCIB3016" }, Warnings(o => { o.MaskedPaths = new List<string> { "none" }; o.ReadonlyPaths = new List<string> { "none" }; }));

        // New kernel file systems, which the masked paths do not cover; a rootless bundle whose root is the host's.
        CollectionAssert.AreEqual(new[] { "OCIB3017" }, Warnings(o => o.Mounts.Add(new MountOption { Destination = "/p2", Type = "proc", Source = "proc" })));
        CollectionAssert.AreEqual(new[] { "OCIB3017" }, Warnings(o => o.Mounts.Add(new MountOption { Destination = "/s2", Type = "sysfs", Source = "sysfs" })));
        CollectionAssert.AreEqual(new[] { "OCIB3010" }, Warnings(o => { o.Rootless = true; o.User = "0"; o.HostUid = "0"; o.HostGid = "0"; }));

        // A deny-list profile (everything allowed unless named) is as open as none.
        File.WriteAllText(_dir.Combine("deny-list.json"), """{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["reboot"],"action":"SCMP_ACT_ERRNO"}]}""");
        CollectionAssert.AreEqual(new[] { "OCIB3013" }, Warnings(o => o.Seccomp = _dir.Combine("deny-list.json")));

        CollectionAssert.AreEqual(Array.Empty<string>(), Warnings(o => o.Mounts.Add(new MountOption { Destination = "/data", Type = "bind", Source = _dir.Path, Options = new List<string> { "rbind" } })), "a data folder");
    }

    [TestMethod]
    public void AProfileThatIsNotJsonIsNeverQuoted()
    {
        File.WriteAllText(_dir.Combine("secret.json"), "root:$y$j9T$secrethash:19000:0:99999:7:::\n");
        BundleOptions options = Valid();
        options.Seccomp = _dir.Combine("secret.json");
        var errors = new List<OciBundleException>();
        Validate(options, errors);
        Assert.AreEqual("OCIB1171", errors.Single().Code);
        StringAssert.Contains(errors.Single().Message, "cannot be used: it is not JSON.");
        Assert.IsFalse(errors.Single().Message.Contains("root:", StringComparison.Ordinal) || errors.Single().Message.Contains("secrethash", StringComparison.Ordinal), errors.Single().Message);

        options.MaskedPathItems.Add("/proc/x\u0000y");
        errors.Clear();
        options.Seccomp = "default";
        Validate(options, errors);
        StringAssert.Contains(errors.Single().Message, "'/proc/x\\x00y'");
    }

    [TestMethod]
    public void TheImageExposesThePortsTheAppListensOn()
    {
        static string[] Ports(Action<BundleOptions> change)
        {
            BundleOptions options = Valid();
            options.ImageDirectory = _dir.Combine("proj", "bin", "oci-image");
            change(options);
            return BundleRequest.Parse(options).Output.Image!.Ports.ToArray();
        }

        CollectionAssert.AreEqual(new[] { "8080/tcp" }, Ports(o => o.HttpPorts = "8080"), "a web app's default");
        CollectionAssert.AreEqual(new[] { "8080/tcp" }, Ports(o => o.HttpPorts = "8080;8080"), "a port given twice is exposed once");
        CollectionAssert.AreEqual(new[] { "80/tcp" }, Ports(o => { o.HttpPorts = "80"; o.Capabilities = new List<string> { "CAP_NET_BIND_SERVICE" }; }), "port 80 with the capability");
        CollectionAssert.AreEqual(new[] { "9090/tcp" }, Ports(o => { o.HttpPorts = "8080"; o.Environment.Add(new("ASPNETCORE_HTTP_PORTS", "9090")); }), "the user's PORTS win");
        CollectionAssert.AreEqual(Array.Empty<string>(), Ports(o => { o.HttpPorts = "8080"; o.Environment.Add(new("ASPNETCORE_URLS", "http://+:5000")); }), "URLS: not known, not guessed");
        CollectionAssert.AreEqual(new[] { "53/udp" }, Ports(o => { o.HttpPorts = "8080"; o.ImagePorts.Add("53/udp"); }), "OciImagePort items win");
        CollectionAssert.AreEqual(Array.Empty<string>(), Ports(_ => { }), "not a web app");
    }

    [TestMethod]
    public void ADefaultFilterRuntimeSpec100CannotDescribeIsACodedError()
    {
        var errors = new ParseErrors();
        SeccompSpec.Parse("default", "riscv64", Array.Empty<string>(), "1.0.0", errors);
        Assert.AreEqual("OCIB1171", errors.All.Single().Code);
        StringAssert.Contains(errors.All.Single().Message, "SCMP_ARCH_RISCV64");
        errors = new ParseErrors();
        SeccompSpec.Parse("default", "riscv64", Array.Empty<string>(), "1.2.1", errors);
        Assert.AreEqual(0, errors.All.Count);
    }

    [TestMethod]
    public void UserNamesOfTheGeneratedPasswdResolve()
    {
        var errors = new List<OciBundleException>();
        BundleOptions options = Valid();
        options.User = "root:app";
        BundleRequest request = Validate(options, errors);
        Assert.AreEqual(0, errors.Count);
        Assert.AreEqual(0u, request.Process.User.Uid);
        Assert.AreEqual(1654u, request.Process.User.Gid);
    }

    [TestMethod]
    public void AnEmptyFolderAMissingOneAndAnOutputOfOursMayBeReplaced()
    {
        foreach (string dir in new[] { _dir.Combine("empty"), _dir.Combine("not-yet") })
        {
            List<string> codes = Codes(o => o.BundleDirectory = dir);
            Assert.AreEqual(0, codes.Count, $"{dir}: {string.Join(", ", codes)}");
        }
    }

    [TestMethod]
    public void ARootlessBundleBuiltByRootTakesTheIdsOfSudoOrAsksForThem()
    {
        TestEnvironment.Require(TestEnvironment.IsRoot, "root (the case is a build run as root)");
        string? uid = Environment.GetEnvironmentVariable("SUDO_UID"), gid = Environment.GetEnvironmentVariable("SUDO_GID");
        try
        {
            Environment.SetEnvironmentVariable("SUDO_UID", null);
            Environment.SetEnvironmentVariable("SUDO_GID", null);
            CollectionAssert.AreEqual(new[] { "OCIB1121" }, Codes(o => { o.Rootless = true; o.User = "0"; }));

            Environment.SetEnvironmentVariable("SUDO_UID", "1002");
            Environment.SetEnvironmentVariable("SUDO_GID", "1003");
            BundleOptions options = Valid();
            options.Rootless = true;
            options.User = "0";
            var errors = new List<OciBundleException>();
            BundleRequest request = Validate(options, errors);
            Assert.AreEqual(0, errors.Count);
            Assert.AreEqual((1002u, 1003u), (request.Isolation.Rootless!.HostUid, request.Isolation.Rootless.HostGid));

            options.HostUid = "1004";
            request = Validate(options, errors);
            Assert.AreEqual(1004u, request.Isolation.Rootless!.HostUid, "an explicit OciBundleHostUid wins over sudo's");
        }
        finally
        {
            Environment.SetEnvironmentVariable("SUDO_UID", uid);
            Environment.SetEnvironmentVariable("SUDO_GID", gid);
        }
    }

    [TestMethod]
    public void TheRequestPrintsEveryValueSoItsKeyChangesWithAnyOfThem()
    {
        BundleOptions options = Valid();
        options.Mounts.Add(new MountOption { Destination = "/cache", Type = "tmpfs", Options = new List<string> { "size=1m" } });
        options.Environment.Add(new("GREETING", "hello world"));
        options.ImageDirectory = _dir.Combine("proj", "bin", "oci-image");
        options.ImageLabels["team"] = "payments";
        options.Capabilities = new List<string> { "CAP_KILL" };
        options.Rlimits.Add(new RlimitOption { Type = "NOFILE", Soft = "4096", Hard = "8193" });
        options.MaskedPathItems.Add("/proc/cpuinfo");
        BundleRequest request = Validate(options, new List<OciBundleException>());

        StringAssert.Contains(request.Isolation.ToString(), "\"size=1m\"");
        StringAssert.Contains(request.Process.ToString(), "[GREETING, hello world]");
        StringAssert.Contains(request.Process.ToString(), "\"CAP_KILL\"");
        StringAssert.Contains(request.Process.ToString(), "Hard = 8193");
        StringAssert.Contains(request.Isolation.ToString(), "\"/proc/cpuinfo\"");
        File.WriteAllText(_dir.Combine("key-profile.json"), "{\"defaultAction\": \"SCMP_ACT_LOG\"}");
        options.Seccomp = _dir.Combine("key-profile.json");
        StringAssert.Contains(Validate(options, new List<OciBundleException>()).Isolation.ToString(), "SCMP_ACT_LOG", "the profile's text itself, so an edited profile file changes the key");
        StringAssert.Contains(request.Output.ToString(), "\"team\": \"payments\"");
        StringAssert.Contains(request.Content.ToString(), "Arch = amd64");
    }
}
