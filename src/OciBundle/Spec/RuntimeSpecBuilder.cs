using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace OciBundle.Spec;

/// <summary>
/// Writes <c>config.json</c> (OCI runtime specification) from a validated request. The key order is fixed and the
/// output is UTF-8 with LF line ends and a final newline, so the same inputs give the same bytes.
/// </summary>
/// <remarks>
/// Defaults, each chosen for a reason:
/// <list type="bullet">
/// <item>capabilities and <c>RLIMIT_NOFILE</c>: those of <c>runc spec</c> (AUDIT_WRITE, KILL, NET_BIND_SERVICE; 1024), the
///   smallest set an ordinary service needs (NET_BIND_SERVICE lets a non-root Kestrel listen on port 80);</item>
/// <item><c>noNewPrivileges</c>: true, so nothing in the container can gain privileges through setuid files or file capabilities;</item>
/// <item>masked and read-only paths: those of <c>runc spec</c>, hiding kernel interfaces a container must not read or change;</item>
/// <item>user 1654: the non-root <c>app</c> user of Microsoft's .NET images (root in a rootless bundle, mapped to the host user);</item>
/// <item><c>terminal</c> false: the bundle runs as a service, its output goes to the runtime's stdout;</item>
/// <item>no <c>platform</c>: the specification removed it before 1.0.0.</item>
/// </list>
/// </remarks>
public static class RuntimeSpecBuilder
{
    public const string NewestVersion = "1.3.0";

    public static readonly IReadOnlyList<string> SupportedVersions = new[] { "1.0.0", "1.2.1", "1.3.0" };

    public static readonly IReadOnlyList<string> DefaultCapabilities = new[] { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" };

    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private static readonly string[] MaskedPaths =
    {
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
    };

    private static readonly string[] ReadonlyPaths = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" };

    /// <summary>The process and file-system facts config.json is written from.</summary>
    public sealed class Input
    {
        public string SpecVersion { get; init; } = NewestVersion;
        public IReadOnlyList<string> Args { get; init; } = Array.Empty<string>();
        public IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; } = Array.Empty<KeyValuePair<string, string>>();
        public string Cwd { get; init; } = "/app";
        public uint Uid { get; init; } = 1654;
        public uint Gid { get; init; } = 1654;
        public string Hostname { get; init; } = "app";
        public bool ReadOnly { get; init; }
        public bool Rootless { get; init; }
        public uint HostUid { get; init; }
        public uint HostGid { get; init; }
        public bool HostNetwork { get; init; }
        public IReadOnlyList<MountOption> Mounts { get; init; } = Array.Empty<MountOption>();
        public IReadOnlyList<string> Capabilities { get; init; } = DefaultCapabilities;
        public bool NoNewPrivileges { get; init; } = true;
    }

    public static JObject Build(Input input)
    {
        var process = new JObject
        {
            ["terminal"] = false,
            ["user"] = new JObject { ["uid"] = input.Uid, ["gid"] = input.Gid },
            ["args"] = new JArray(input.Args),
            ["env"] = new JArray(input.Environment.Select(e => $"{e.Key}={e.Value}")),
            ["cwd"] = input.Cwd,
            ["capabilities"] = new JObject
            {
                ["bounding"] = new JArray(input.Capabilities),
                ["effective"] = new JArray(input.Capabilities),
                ["permitted"] = new JArray(input.Capabilities),
                ["ambient"] = new JArray(input.Capabilities),
            },
            ["rlimits"] = new JArray(new JObject { ["type"] = "RLIMIT_NOFILE", ["hard"] = 1024, ["soft"] = 1024 }),
            ["noNewPrivileges"] = input.NoNewPrivileges,
        };

        var linux = new JObject();
        if (input.Rootless)
        {
            linux["uidMappings"] = new JArray(new JObject { ["containerID"] = 0, ["hostID"] = input.HostUid, ["size"] = 1 });
            linux["gidMappings"] = new JArray(new JObject { ["containerID"] = 0, ["hostID"] = input.HostGid, ["size"] = 1 });
        }

        var namespaces = new List<string> { "pid" };
        if (!input.HostNetwork)
        {
            namespaces.Add("network");
        }

        namespaces.AddRange(new[] { "mount", "ipc", "uts" });
        if (input.Rootless)
        {
            namespaces.Add("user");
        }

        linux["namespaces"] = new JArray(namespaces.Select(n => new JObject { ["type"] = n }));
        linux["maskedPaths"] = new JArray(MaskedPaths);
        linux["readonlyPaths"] = new JArray(ReadonlyPaths);

        return new JObject
        {
            ["ociVersion"] = input.SpecVersion,
            ["process"] = process,
            ["root"] = new JObject { ["path"] = "rootfs", ["readonly"] = input.ReadOnly },
            ["hostname"] = input.Hostname,
            ["mounts"] = new JArray(SystemMounts(input).Concat(input.Mounts.Select(ToJson))),
            ["linux"] = linux,
        };
    }

    /// <summary>The seed's seven system mounts (and a tmpfs /tmp for a read-only root); rootless as <c>runc spec --rootless</c> adapts them.</summary>
    private static IEnumerable<JObject> SystemMounts(Input input)
    {
        yield return Mount("/proc", "proc", "proc");
        yield return Mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k");
        yield return input.Rootless
            ? Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620")
            : Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5");
        yield return Mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k");
        yield return Mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev");
        if (input.Rootless)
        {
            // A user namespace may not mount a new sysfs or cgroupfs; bind the host's /sys read-only instead.
            yield return Mount("/sys", "none", "/sys", "rbind", "nosuid", "noexec", "nodev", "ro");
        }
        else
        {
            yield return Mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro");
            yield return Mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro");
        }

        if (input.ReadOnly)
        {
            yield return Mount("/tmp", "tmpfs", "tmpfs", "nosuid", "nodev", "mode=1777");
        }
    }

    private static JObject Mount(string destination, string type, string source, params string[] options)
    {
        var mount = new JObject { ["destination"] = destination, ["type"] = type, ["source"] = source };
        if (options.Length > 0)
        {
            mount["options"] = new JArray(options);
        }

        return mount;
    }

    private static JObject ToJson(MountOption m) => Mount(m.Destination, m.Type!, m.Source!, m.Options.ToArray());

    /// <summary>The exact bytes of config.json: two-space indentation, LF, trailing newline.</summary>
    public static byte[] Serialize(JObject spec)
    {
        var builder = new StringBuilder();
        using (var writer = new StringWriter(builder, System.Globalization.CultureInfo.InvariantCulture) { NewLine = "\n" })
        using (var json = new JsonTextWriter(writer) { Formatting = Formatting.Indented, Indentation = 2 })
        {
            spec.WriteTo(json);
        }

        builder.Append('\n');
        return new UTF8Encoding(false).GetBytes(builder.ToString());
    }
}
