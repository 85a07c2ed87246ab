using OciBundle.Diagnostics;
using OciBundle.Model;

namespace OciBundle.Request;

/// <summary>
/// The five capability sets of the process, as config.json writes them. Made from <c>OciBundleCapabilities</c> and
/// the user, so that what is asked for is in effect after runc's <c>execve</c>:
/// <list type="bullet">
/// <item>a non-root user keeps a capability across <c>execve</c> only through the ambient set, and the kernel drops an
///   ambient capability that is not also permitted and inheritable, so all five sets hold it;</item>
/// <item>root gets its permitted and effective sets from the bounding set at <c>execve</c>, so it needs neither
///   inheritable nor ambient (runc 1.1.2 stopped writing inheritable for the same reason: CVE-2022-29162).</item>
/// </list>
/// <c>default</c>: none for every process but root outside a user namespace, which gets <c>OciBundleRootCapabilities</c>
/// (the targets give <c>runc spec</c>'s set).
/// </summary>
internal sealed record CapabilitySets(
    IReadOnlyList<string> Bounding,
    IReadOnlyList<string> Effective,
    IReadOnlyList<string> Permitted,
    IReadOnlyList<string> Inheritable,
    IReadOnlyList<string> Ambient,
    bool IsDefault)
{
    // Every capability Linux 6.x defines (include/uapi/linux/capability.h).
    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
        "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    };

    public static CapabilitySets Parse(IList<string>? values, IList<string>? rootDefault, UserSpec user, bool rootless, ParseErrors errors)
    {
        var words = (values ?? new List<string>()).Select(c => c.Trim()).Where(c => c.Length > 0).ToList();
        if (words.Count == 0)
        {
            errors.Required(null, "OciBundleCapabilities");
            return None(isDefault: true);
        }

        var rootWords = (rootDefault ?? new List<string>()).Select(c => c.Trim()).Where(c => c.Length > 0).ToList();
        if (rootWords.Count == 0)
        {
            errors.Required(null, "OciBundleRootCapabilities");
        }

        List<string> rootSet = rootWords.Count == 1 && rootWords[0].Equals("none", StringComparison.OrdinalIgnoreCase) ? new List<string>() : Names(rootWords, "OciBundleRootCapabilities", errors);

        var keywords = words.Where(w => w.Equals("none", StringComparison.OrdinalIgnoreCase) || w.Equals("default", StringComparison.OrdinalIgnoreCase)).ToList();
        if (keywords.Count > 0 && words.Count > 1)
        {
            errors.Add(Strings.ContradictoryCapabilities, $"'{string.Join(';', words)}' mixes '{keywords[0]}' with other values");
            return None(isDefault: false);
        }

        if (keywords.Count == 1)
        {
            bool isDefault = keywords[0].Equals("default", StringComparison.OrdinalIgnoreCase);
            return isDefault && user.Uid == 0 && !rootless ? For(rootSet, root: true, isDefault: true) : None(isDefault);
        }

        return For(Names(words, "OciBundleCapabilities", errors), user.Uid == 0, isDefault: false);
    }

    /// <summary>Capability names, normalised to <c>CAP_</c> names, sorted, without duplicates; each unknown one is OCIB1160.</summary>
    private static List<string> Names(IEnumerable<string> words, string property, ParseErrors errors)
    {
        var caps = new List<string>();
        foreach (string raw in words)
        {
            string upper = raw.ToUpperInvariant();
            string name = upper.StartsWith("CAP_", StringComparison.Ordinal) ? upper : "CAP_" + upper;
            if (Known.Contains(name))
            {
                caps.Add(name);
            }
            else
            {
                errors.Add(Strings.InvalidCapability, property, raw);
            }
        }

        return caps.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The sets that make <paramref name="caps"/> effective after <c>execve</c> for root or another user.</summary>
    public static CapabilitySets For(IReadOnlyList<string> caps, bool root, bool isDefault)
    {
        var set = new Seq<string>(caps);
        var empty = new Seq<string>(Array.Empty<string>());
        return root ? new CapabilitySets(set, set, set, empty, empty, isDefault) : new CapabilitySets(set, set, set, set, set, isDefault);
    }

    private static CapabilitySets None(bool isDefault) => For(Array.Empty<string>(), root: false, isDefault);

    /// <summary>
    /// The kernel's rules for a process's sets: ambient within permitted and inheritable, effective within permitted,
    /// every set within bounding. Returns what breaks them, or null: a set that breaks them would not be what runs.
    /// </summary>
    public string? Violation()
    {
        string? Outside(string name, IReadOnlyList<string> set, string otherName, IReadOnlyList<string> other) =>
            set.Except(other, StringComparer.Ordinal).ToList() is { Count: > 0 } extra ? $"{string.Join(", ", extra)} in {name} but not in {otherName}" : null;

        return Outside("ambient", Ambient, "permitted", Permitted)
            ?? Outside("ambient", Ambient, "inheritable", Inheritable)
            ?? Outside("effective", Effective, "permitted", Permitted)
            ?? Outside("permitted", Permitted, "bounding", Bounding)
            ?? Outside("inheritable", Inheritable, "bounding", Bounding)
            ?? Outside("ambient", Ambient, "bounding", Bounding);
    }
}
