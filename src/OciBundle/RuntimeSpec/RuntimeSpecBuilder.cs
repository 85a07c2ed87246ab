using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.SeccompProfiles;

namespace OciBundle.RuntimeSpec;

/// <summary>
/// Writes <c>config.json</c> (OCI runtime specification) from a validated request. The key order is fixed and the
/// output is UTF-8 with LF line ends and a final newline, so the same inputs give the same bytes.
/// </summary>
/// <remarks>
/// Defaults, each chosen for a reason:
/// <list type="bullet">
/// <item>capabilities: the five sets of <see cref="Request.CapabilitySets"/>, always written (none for a non-root user by default);</item>
/// <item>rlimits: only those asked for; the rest are the runtime's own (.NET raises its open-file soft limit to the hard one);</item>
/// <item><c>noNewPrivileges</c>: true, so nothing in the container can gain privileges through setuid files or file capabilities;</item>
/// <item>seccomp, masked and read-only paths: from the request (the targets' defaults are Docker's allow-list and runc spec's lists);</item>
/// <item>user 1654: the non-root <c>app</c> user of Microsoft's .NET images (root in a rootless bundle, mapped to the host user);</item>
/// <item><c>terminal</c> false: the bundle runs as a service, its output goes to the runtime's stdout;</item>
/// <item>no <c>platform</c>: the specification removed it before 1.0.0.</item>
/// </list>
/// </remarks>
internal static class RuntimeSpecBuilder
{
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>
    /// The process and file-system facts config.json is written from: the planner makes it from the request and the
    /// plan. No member has a default; every value comes from the request.
    /// </summary>
    internal sealed record Input
    {
        public required string SpecVersion { get; init; }
        public required IReadOnlyList<string> Args { get; init; }
        public required IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; }
        public required string Cwd { get; init; }
        public required uint Uid { get; init; }
        public required uint Gid { get; init; }
        public required string Hostname { get; init; }
        public required bool ReadOnly { get; init; }
        public required Request.RootlessSpec? Rootless { get; init; }
        public required bool HostNetwork { get; init; }
        public required IReadOnlyList<Request.MountSpec> Mounts { get; init; }
        public required Request.CapabilitySets Capabilities { get; init; }
        public required bool NoNewPrivileges { get; init; }
        public required IReadOnlyList<Request.RlimitSpec> Rlimits { get; init; }

        /// <summary>The <c>linux.seccomp</c> object; null for none (unconfined).</summary>
        public required SeccompFilter? Seccomp { get; init; }
        public required IReadOnlyList<string> MaskedPaths { get; init; }
        public required IReadOnlyList<string> ReadonlyPaths { get; init; }
    }

    /// <summary>The exact bytes of config.json for <paramref name="input"/>.</summary>
    public static byte[] Write(Input input) => Serialize(Build(input));

    private static JObject Build(Input input)
    {
        var process = new JObject
        {
            ["terminal"] = false,
            ["user"] = new JObject { ["uid"] = input.Uid, ["gid"] = input.Gid },
            ["args"] = new JArray(input.Args),
            ["env"] = new JArray(input.Environment.Select(e => $"{e.Key}={e.Value}")),
            ["cwd"] = input.Cwd,
            // Always all five sets, empty ones too: runc leaves a process whose config names no capabilities with all of its own.
            ["capabilities"] = new JObject
            {
                ["bounding"] = new JArray(input.Capabilities.Bounding),
                ["effective"] = new JArray(input.Capabilities.Effective),
                ["inheritable"] = new JArray(input.Capabilities.Inheritable),
                ["permitted"] = new JArray(input.Capabilities.Permitted),
                ["ambient"] = new JArray(input.Capabilities.Ambient),
            },
        };
        if (input.Rlimits.Count > 0)
        {
            process["rlimits"] = new JArray(input.Rlimits.Select(r => new JObject { ["type"] = r.Type, ["hard"] = r.Hard, ["soft"] = r.Soft }));
        }

        process["noNewPrivileges"] = input.NoNewPrivileges;

        var linux = new JObject();
        if (input.Rootless is { } rootless)
        {
            linux["uidMappings"] = new JArray(new JObject { ["containerID"] = 0, ["hostID"] = rootless.HostUid, ["size"] = 1 });
            linux["gidMappings"] = new JArray(new JObject { ["containerID"] = 0, ["hostID"] = rootless.HostGid, ["size"] = 1 });
        }

        var namespaces = new List<string> { "pid" };
        if (!input.HostNetwork)
        {
            namespaces.Add("network");
        }

        namespaces.AddRange(new[] { "mount", "ipc", "uts" });
        if (input.Rootless is not null)
        {
            namespaces.Add("user");
        }

        linux["namespaces"] = new JArray(namespaces.Select(n => new JObject { ["type"] = n }));
        if (input.Seccomp is not null)
        {
            linux["seccomp"] = input.Seccomp.ToJson();
        }

        linux["maskedPaths"] = new JArray(input.MaskedPaths);
        linux["readonlyPaths"] = new JArray(input.ReadonlyPaths);

        return new JObject
        {
            ["ociVersion"] = input.SpecVersion,
            ["process"] = process,
            ["root"] = new JObject { ["path"] = "rootfs", ["readonly"] = input.ReadOnly },
            ["hostname"] = input.Hostname,
            ["mounts"] = new JArray(Request.SystemMounts.Of(input.Rootless is not null, input.ReadOnly, input.Mounts).Concat(input.Mounts).Select(ToJson)),
            ["linux"] = linux,
        };
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

    private static JObject ToJson(Request.MountSpec m) => Mount(m.Destination, m.Type, m.Source, m.Options.ToArray());

    /// <summary>The exact bytes of config.json: two-space indentation, LF, trailing newline.</summary>
    private static byte[] Serialize(JObject spec)
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
