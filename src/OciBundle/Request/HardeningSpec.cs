using System.Globalization;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.SeccompProfiles;
using OciBundle.Model;

namespace OciBundle.Request;

/// <summary>
/// The process's seccomp filter: <c>default</c> (an allow-list equivalent to Docker's and containerd's),
/// <c>unconfined</c> (none), or a profile file, whose text the request holds (checked here, so its mistakes are
/// reported with the others; and an edit of the file changes the request). The filter itself is resolved by the
/// planner, against the target architecture and the capabilities in effect: the default one is a function of those and
/// of the engine, all of which the up-to-date key already holds, so a no-op publish never builds it.
/// </summary>
internal sealed record SeccompSpec(string Source, string? ProfileText)
{
    /// <summary>The largest profile file read: moby's own is 20 KB.</summary>
    public const int MaxProfileBytes = 4 << 20;

    /// <summary>No filter, or a profile that lets every call through unless a rule says otherwise (a deny-list).</summary>
    public bool Unconfined => Source == "unconfined" || AllowsByDefault;

    /// <summary>A profile file whose <c>defaultAction</c> allows (or only logs) what no rule names.</summary>
    public bool AllowsByDefault { get; init; }

    /// <summary>
    /// The profile's bytes, read through one descriptor (no symlink followed, no blocking on a FIFO swapped in after
    /// the check) and never more than <see cref="MaxProfileBytes"/>.
    /// </summary>
    private static string ReadProfile(string real)
    {
        int fd = NativeMethods.Open(real, NativeMethods.O_RDONLY | NativeMethods.O_NOFOLLOW | NativeMethods.O_NONBLOCK | NativeMethods.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"it cannot be opened (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
        }

        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        if (NativeMethods.FStat(fd) is not { } st || (st.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG)
        {
            throw new IOException("it was replaced by something that is not a regular file");
        }

        if (st.Size > MaxProfileBytes)
        {
            throw new SeccompProfileException($"it is {st.Size} bytes, over the {MaxProfileBytes} a profile may have");
        }

        byte[] buffer = new byte[(int)st.Size];
        int total = 0;
        while (total < buffer.Length && RandomAccess.Read(handle, buffer.AsSpan(total), total) is var n and > 0)
        {
            total += n;
        }

        return new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, total);
    }

    public static SeccompSpec Parse(string? value, string goArch, IReadOnlyCollection<string> capabilities, string specVersion, ParseErrors errors)
    {
        string text = errors.Required(value, "OciBundleSeccomp");
        if (text.Length == 0 || text.Equals("default", StringComparison.OrdinalIgnoreCase))
        {
            if (specVersion == "1.0.0" && SeccompProfile.DefaultArchitectureUnknownToSpec100(goArch) is { } arch)
            {
                errors.Add(Strings.InvalidSeccompProfile, "default", $"runtime-spec 1.0.0 has no {arch}, the architecture of {goArch}; set OciBundleSpecVersion to 1.2.1 or later");
            }

            return new SeccompSpec("default", null);
        }

        if (text.Equals("unconfined", StringComparison.OrdinalIgnoreCase))
        {
            return new SeccompSpec("unconfined", null);
        }

        string path = Path.GetFullPath(text);
        string? real = NativeMethods.RealPath(path);

        if (real is null || NativeMethods.LStat(real) is not { } st || (st.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG)
        {
            errors.Add(Strings.InvalidSeccomp, value, real is null ? $"{path} does not exist" : $"{path} is not a regular file");
            return new SeccompSpec(path, null);
        }

        try
        {
            var spec = new SeccompSpec(path, ReadProfile(real));
            SeccompFilter resolved = spec.Resolve(goArch, capabilities)!;
            if (specVersion == "1.0.0" && SeccompProfile.UnknownToSpec100(resolved) is { } unknown)
            {
                throw new SeccompProfileException($"runtime-spec 1.0.0 has no {unknown}; set OciBundleSpecVersion to 1.2.1 or later");
            }

            return spec with { AllowsByDefault = resolved.AllowsByDefault };
        }
        catch (Exception e) when (e is JsonException or SeccompProfileException or IOException or UnauthorizedAccessException or System.Text.DecoderFallbackException)
        {
            // Where a JSON mistake is, never what: the file may be a secret someone linked in (Newtonsoft quotes the text).
            string why = e switch
            {
                JsonReaderException { LineNumber: > 0 } r => $"it is not JSON (line {r.LineNumber}, position {r.LinePosition})",
                JsonReaderException => "it is not JSON",
                JsonException => "it is not a JSON object of one profile",
                System.Text.DecoderFallbackException => "it is not UTF-8 text",
                _ => e.Message.TrimEnd('.'),
            };
            errors.Add(Strings.InvalidSeccompProfile, path, why);
            return new SeccompSpec(path, null);
        }
    }

    /// <summary>The <c>linux.seccomp</c> object for the target and the capabilities in effect; null when unconfined.</summary>
    public SeccompFilter? Resolve(string goArch, IReadOnlyCollection<string> capabilities) => Source switch
    {
        "unconfined" => null,
        "default" => SeccompProfile.Default(goArch, capabilities),
        _ => SeccompProfile.Resolve(
            JObject.Parse(ProfileText ?? throw new InvalidOperationException("a profile that failed to parse reached the planner"), new JsonLoadSettings { DuplicatePropertyNameHandling = DuplicatePropertyNameHandling.Error }),
            goArch,
            capabilities),
    };
}

/// <summary>
/// The runtime's masked or read-only paths: the targets' default list (<c>OciBundleMaskedPaths</c>, <c>none</c> to
/// clear it) and the user's items, in that order, without duplicates.
/// </summary>
internal static class HardeningPaths
{
    /// <summary>A path as the user gave it, and the property or item it was given by.</summary>
    private sealed record GivenPath(string Raw, string Name);

    /// <summary>The paths, and whether the property cleared the defaults (<c>none</c>).</summary>
    public static (IReadOnlyList<string> Paths, bool Cleared) Parse(IList<string> property, IList<string> items, string propertyName, string itemName, string workingDirectory, ParseErrors errors)
    {
        var words = property.Select(p => p.Trim()).Where(p => p.Length > 0).ToList();
        if (words.Count == 0)
        {
            errors.Required(null, propertyName);
        }

        bool cleared = words.Count == 1 && words[0].Equals("none", StringComparison.OrdinalIgnoreCase);
        // The property's words, then the items', each with the name it was given by (a list of records, not LINQ over
        // tuples: those are compiled on every publish, as framework generics over a value type).
        var given = new List<GivenPath>();
        foreach (string word in cleared ? new List<string>() : words)
        {
            given.Add(new GivenPath(word, propertyName));
        }

        foreach (string item in items)
        {
            given.Add(new GivenPath(item.Trim(), itemName));
        }

        var paths = new List<string>();
        foreach ((string raw, string name) in given)
        {
            string? problem = raw.Equals("none", StringComparison.OrdinalIgnoreCase) ? "'none' clears the defaults only as the property's whole value"
                : !raw.StartsWith('/') ? "it is not absolute"
                : ContainerPath.HasDotDot(raw) ? "it contains '..'"
                : raw.Any(char.IsControl) ? "it contains a control character"
                : raw.Length >= 4096 ? $"it is {raw.Length} characters long, over PATH_MAX"
                : ContainerPath.Normalize(raw) == "/" ? "it is the container's root"
                : ContainerPath.IsSameOrInside(workingDirectory, ContainerPath.Normalize(raw)) ? $"it would hide the app in {workingDirectory}"
                : null;
            if (problem is not null)
            {
                errors.Add(Strings.InvalidHardeningPath, name, Shown(raw), problem);
                continue;
            }

            string normalized = ContainerPath.Normalize(raw);
            if (!paths.Contains(normalized, StringComparer.Ordinal))
            {
                paths.Add(normalized);
            }
        }

        return (new Seq<string>(paths), cleared);
    }

    /// <summary>A value as a log can show it: control characters escaped, at most 200 characters.</summary>
    private static string Shown(string raw)
    {
        string escaped = string.Concat(raw.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));
        return escaped.Length > 200 ? escaped[..200] + "..." : escaped;
    }
}

/// <summary>One <c>OciBundleRlimit</c> item: a resource limit, soft and hard.</summary>
internal sealed record RlimitSpec(string Type, ulong Soft, ulong Hard)
{
    /// <summary>RLIM_INFINITY.</summary>
    public const ulong Unlimited = ulong.MaxValue;

    // Every limit of setrlimit(2), as runc names them.
    private static readonly string[] Known =
    {
        "RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS", "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
    };

    public static IReadOnlyList<RlimitSpec> ParseAll(IList<RlimitOption> items, ParseErrors errors)
    {
        var limits = new List<RlimitSpec>();
        foreach (RlimitOption item in items)
        {
            string upper = item.Type.Trim().ToUpperInvariant();
            string type = upper.StartsWith("RLIMIT_", StringComparison.Ordinal) ? upper : "RLIMIT_" + upper;
            if (!Known.Contains(type))
            {
                errors.Add(Strings.UnknownRlimit, item.Type, string.Join(", ", Known));
                continue;
            }

            ulong? soft = Value(item.Soft, type, "Soft", errors);
            ulong? hard = string.IsNullOrWhiteSpace(item.Hard) ? soft : Value(item.Hard, type, "Hard", errors);
            if (soft is null || hard is null)
            {
                continue;
            }

            if (type == "RLIMIT_NOFILE" && hard > RlimitBounds.NrOpen)
            {
                errors.Add(Strings.InvalidRlimitValue, type, $"Hard {RlimitBounds.Show(hard.Value)} is above {RlimitBounds.NrOpen} ({RlimitBounds.NrOpenSource}), the most open files the kernel lets a process have, so setrlimit refuses it, even to root, and the container would not start");
                continue;
            }

            if (soft > hard)
            {
                errors.Add(Strings.InvalidRlimitValue, type, $"Soft ({item.Soft}) is above Hard ({item.Hard}), which setrlimit refuses");
                continue;
            }

            if (RlimitBounds.FloorOf(type) is { } floor && soft < floor.Floor)
            {
                errors.Add(Strings.RlimitBelowFloor, type, soft, floor.Floor, floor.Why);
                continue;
            }

            limits.Add(new RlimitSpec(type, soft.Value, hard.Value));
        }

        foreach (IGrouping<string, RlimitSpec> twice in limits.GroupBy(l => l.Type).Where(g => g.Count() > 1))
        {
            errors.Add(Strings.DuplicateRlimit, twice.Key, twice.Count());
        }

        return new Seq<RlimitSpec>(limits.OrderBy(l => l.Type, StringComparer.Ordinal));
    }

    private static ulong? Value(string? text, string type, string metadata, ParseErrors errors)
    {
        string value = (text ?? "").Trim();
        if (value.Length == 0)
        {
            errors.Add(Strings.InvalidRlimitValue, type, $"{metadata} is missing");
            return null;
        }

        if (value.Equals("unlimited", StringComparison.OrdinalIgnoreCase) || value.Equals("infinity", StringComparison.OrdinalIgnoreCase))
        {
            return Unlimited;
        }

        if (ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong number))
        {
            return number;
        }

        errors.Add(Strings.InvalidRlimitValue, type, $"{metadata} '{text}' is not a number or 'unlimited'");
        return null;
    }
}

/// <summary>
/// The settings that weaken the defaults, each said out loud with a warning of its own code, so a team sees them in
/// every build log and silences one only by naming it (<c>NoWarn</c>).
/// </summary>
internal static class RiskySettings
{
    // Sockets of container engines: whoever can write to one starts containers as root on the host. Rootless engines
    // keep theirs under /run/user/<uid>/.
    private static readonly string[] EngineSockets =
    {
        "/run/docker.sock", "/run/containerd/containerd.sock", "/run/podman/podman.sock", "/run/crio/crio.sock", "/run/buildkit/buildkitd.sock",
    };

    // File systems that are kernel interfaces: a new mount of one is not covered by the masked and read-only paths.
    private static readonly string[] KernelFileSystems = { "proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "bpf", "configfs", "efivarfs", "pstore", "fusectl", "binfmt_misc" };

    private static readonly string[] UserEngineSockets = { "docker.sock", "podman/podman.sock", "containerd/containerd.sock", "buildkit/buildkitd.sock" };

    /// <summary>The engine socket a bind of <paramref name="source"/> hands the container, if any (the socket itself, or a folder holding it).</summary>
    private static string? EngineSocketIn(string source)
    {
        if (EngineSockets.FirstOrDefault(socket => ContainerPath.IsSameOrInside(socket, source)) is { } system)
        {
            return system;
        }

        // /run/user/1000/docker.sock, or /run/user/1000 itself (or /run/user, holding every user's).
        if (ContainerPath.IsSameOrInside(source, "/run/user") || ContainerPath.IsSameOrInside("/run/user", source))
        {
            string[] parts = source.Split('/', StringSplitOptions.RemoveEmptyEntries);
            string rest = string.Join('/', parts.Skip(3));
            return parts.Length <= 3 || UserEngineSockets.Any(u => u == rest || u.StartsWith(rest + "/", StringComparison.Ordinal)) ? $"{source} (a user's container engine sockets)" : null;
        }

        return null;
    }

    public static IEnumerable<OciBundleException> Of(ProcessSpec process, IsolationSpec isolation, string? userText)
    {
        if (process.User.Uid == 0 && isolation.Rootless is null)
        {
            yield return new OciBundleException(Strings.RunsAsRoot, userText);
        }
        else if (process.User.Uid == 0 && isolation.Rootless is { HostUid: 0 })
        {
            yield return new OciBundleException(Strings.RunsAsRoot, $"{userText}, in a user namespace that maps it to the host's root (OciBundleHostUid 0)");
        }

        if (!process.Capabilities.IsDefault && process.Capabilities.Effective.Where(c => c != "CAP_NET_BIND_SERVICE").ToList() is { Count: > 0 } extra)
        {
            yield return new OciBundleException(Strings.ExtraCapabilities, string.Join(", ", extra));
        }

        if (!process.NoNewPrivileges)
        {
            yield return new OciBundleException(Strings.NewPrivilegesAllowed);
        }

        if (isolation.Seccomp.Unconfined)
        {
            yield return new OciBundleException(Strings.SeccompUnconfined, isolation.Seccomp.AllowsByDefault ? $"'{isolation.Seccomp.Source}', whose defaultAction lets every call no rule names through" : "'unconfined'");
        }

        if (isolation.HostNetwork)
        {
            yield return new OciBundleException(Strings.HostNetworkShared);
        }

        foreach ((string property, bool cleared) in new[] { ("OciBundleMaskedPaths", isolation.MaskedPathsCleared), ("OciBundleReadonlyPaths", isolation.ReadonlyPathsCleared) })
        {
            if (cleared)
            {
                yield return new OciBundleException(Strings.HardeningPathsCleared, property);
            }
        }

        foreach (MountSpec mount in isolation.Mounts.Where(m => !m.IsBind && KernelFileSystems.Contains(m.Type.ToLowerInvariant())))
        {
            yield return new OciBundleException(Strings.KernelFileSystemMount, mount.Destination, mount.Type);
        }

        foreach (MountSpec mount in isolation.Mounts.Where(m => m.IsBind))
        {
            // As the host resolves it (/var/run is a link to /run); a path that does not exist yet, as written.
            string source = NativeMethods.RealPath(mount.Source) ?? ContainerPath.Normalize(mount.Source);
            if (ContainerPath.IsSameOrInside(source, "/var/run"))
            {
                source = "/run" + source["/var/run".Length..];
            }

            string? what = source == "/" ? "root file system, every file of the host"
                : ContainerPath.IsSameOrInside(source, "/proc") ? $"{source}: its processes, their environments and open files"
                : ContainerPath.IsSameOrInside(source, "/sys") ? $"{source}: kernel and device settings"
                : ContainerPath.IsSameOrInside(source, "/dev") ? $"{source}: its devices"
                : EngineSocketIn(source) is { } socket ? $"container engine socket {socket}: whoever writes to it starts containers as root"
                : null;
            if (what is not null)
            {
                yield return new OciBundleException(Strings.HostSystemBindMount, mount.Destination, what, "it gives the app what the container exists to keep from it");
            }
        }
    }
}
