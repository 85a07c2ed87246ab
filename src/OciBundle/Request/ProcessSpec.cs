using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using OciBundle.Diagnostics;

namespace OciBundle.Request;

/// <summary>The process: what runs (args), with what (environment), where, as whom, with which capabilities.</summary>
internal sealed partial record ProcessSpec(
    IReadOnlyList<string> Args,
    IReadOnlyList<string> AppArgs,
    IReadOnlyList<KeyValuePair<string, string>> Environment,
    string WorkingDirectory,
    UserSpec User,
    IReadOnlyList<string> Capabilities,
    bool NoNewPrivileges)
{
    /// <summary>The longest single argument or environment string Linux execs: MAX_ARG_STRLEN (32 pages) less the NUL.</summary>
    public const int MaxArgStrlen = 131071;

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex EnvName();

    /// <summary>The environment asks for invariant globalization (then ICU is left out).</summary>
    public bool InvariantGlobalization => Environment.Any(e => e.Key == "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT" && (e.Value == "1" || e.Value.Equals("true", StringComparison.OrdinalIgnoreCase)));

    public static ProcessSpec Parse(BundleOptions o, ParseErrors errors)
    {
        string cwd = ParseWorkingDirectory(o.WorkingDirectory, errors);
        return new ProcessSpec(
            ParseArgs(o.Args, "OciBundleArg", errors),
            ParseArgs(o.AppArgs, "OciBundleAppArg", errors),
            ParseEnvironment(o.Environment, errors),
            cwd,
            UserSpec.Parse(o.User, o.Rootless, errors),
            CapabilitySpec.Parse(o.Capabilities, errors),
            o.NoNewPrivileges);
    }

    private static IReadOnlyList<string> ParseArgs(IList<string> values, string item, ParseErrors errors)
    {
        if (item == "OciBundleArg" && values.Count > 0 && values.All(string.IsNullOrWhiteSpace))
        {
            errors.Add(Strings.EmptyArgs);
        }

        foreach (string value in values)
        {
            string shown = value.Length > 40 ? value[..40] + "..." : value;
            if (value.Contains('\0'))
            {
                errors.Add(Strings.InvalidEnvironmentVariableValue, $"{item} '{shown}'");
            }
            else if (Encoding.UTF8.GetByteCount(value) is var length and > MaxArgStrlen)
            {
                errors.Add(Strings.ValueTooLong, $"{item} '{shown}'", length);
            }
        }

        return new Seq<string>(values);
    }

    private static IReadOnlyList<KeyValuePair<string, string>> ParseEnvironment(IList<KeyValuePair<string, string>> environment, ParseErrors errors)
    {
        foreach ((string name, string value) in environment)
        {
            if (!EnvName().IsMatch(name))
            {
                errors.Add(Strings.InvalidEnvironmentVariableName, name);
            }
            else if (value.Contains('\0'))
            {
                errors.Add(Strings.InvalidEnvironmentVariableValue, name);
            }
            else if (Encoding.UTF8.GetByteCount(name) + 1 + Encoding.UTF8.GetByteCount(value) is var length and > MaxArgStrlen)
            {
                errors.Add(Strings.ValueTooLong, $"OciBundleEnvironmentVariable '{name}' (name=value)", length);
            }
        }

        return new Seq<KeyValuePair<string, string>>(environment);
    }

    /// <summary>Where the app is published and starts: absolute, no <c>..</c>, not a system folder of the container.</summary>
    private static string ParseWorkingDirectory(string? value, ParseErrors errors)
    {
        string cwd = errors.Required(value, "OciBundleWorkingDirectory");
        if (cwd.Length == 0)
        {
            return "/app";
        }

        if (!cwd.StartsWith('/') || ContainerPath.HasDotDot(cwd))
        {
            errors.Add(Strings.WorkingDirectoryNotAbsolute, value);
            return "/app";
        }

        string normalized = Closure.Sysroot.Normalize(cwd);
        if (normalized is "/" or "/etc" or "/tmp" or "/usr" or "/bin" or "/lib" or "/lib32" or "/lib64" or "/libx32" or "/sbin" or "/home" or "/root" or "/var" or "/run" or "/boot"
            || new[] { "/proc", "/sys", "/dev" }.Any(d => ContainerPath.IsSameOrInside(normalized, d)))
        {
            errors.Add(Strings.WorkingDirectoryReserved, value);
        }

        return normalized;
    }
}

/// <summary>The process's user: <c>uid[:gid]</c>, or a name of the generated <c>/etc/passwd</c>.</summary>
internal sealed partial record UserSpec(uint Uid, uint Gid)
{
    /// <summary>uid_t -1: "no id" to every Linux call; runc refuses it.</summary>
    public const uint ReservedId = uint.MaxValue;

    [GeneratedRegex(@"^(\d{1,10})(?::(\d{1,10}))?$", RegexOptions.CultureInvariant)]
    private static partial Regex NumericUser();

    public static UserSpec Parse(string? value, bool rootless, ParseErrors errors)
    {
        string user = errors.Required(value, "OciBundleUser");
        if (user.Length == 0)
        {
            return new UserSpec(0, 0);
        }

        UserSpec? parsed = null;
        Match numeric = NumericUser().Match(user);
        if (numeric.Success)
        {
            if (uint.TryParse(numeric.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out uint uid)
                && (!numeric.Groups[2].Success || uint.TryParse(numeric.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            {
                parsed = new UserSpec(uid, numeric.Groups[2].Success ? uint.Parse(numeric.Groups[2].Value, CultureInfo.InvariantCulture) : uid);
            }
        }
        else if (user.IndexOfAny(new[] { ' ', '\t' }) < 0 && user.Split(':') is { Length: <= 2 } names && names.All(n => n.Length > 0))
        {
            Accounts.Account? account = Accounts.Find(names[0]);
            Accounts.Account? group = names.Length == 2 ? Accounts.Find(names[1]) : account;
            if (account is null || group is null)
            {
                errors.Add(Strings.UnknownUserName, value, string.Join(", ", Accounts.All.Select(a => a.Name)));
                return new UserSpec(0, 0);
            }

            parsed = new UserSpec(account.Id, group.Id);
        }

        if (parsed is null)
        {
            errors.Add(Strings.InvalidUser, value);
            return new UserSpec(0, 0);
        }

        if (parsed.Uid == ReservedId || parsed.Gid == ReservedId)
        {
            errors.Add(Strings.ReservedId, $"OciBundleUser '{value}'");
        }
        else if (rootless && (parsed.Uid != 0 || parsed.Gid != 0))
        {
            errors.Add(Strings.RootlessUserNotMapped, value);
        }

        return parsed;
    }
}

/// <summary>The users and groups of the generated <c>/etc/passwd</c> and <c>/etc/group</c>.</summary>
internal static class Accounts
{
    internal sealed record Account(string Name, uint Id, string Home);

    /// <summary>The non-root user of Microsoft's .NET images: the process's default user, the owner of its home.</summary>
    public static readonly Account App = new("app", 1654, "/home/app");

    public static readonly IReadOnlyList<Account> All = new[] { new Account("root", 0, "/root"), App };

    public static Account? Find(string name) => All.FirstOrDefault(a => a.Name == name);
}

/// <summary>The process's capabilities, normalised to <c>CAP_</c> names; <c>none</c> for none.</summary>
internal static class CapabilitySpec
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

    public static IReadOnlyList<string> Parse(IList<string>? values, ParseErrors errors)
    {
        if (values is null || values.All(string.IsNullOrWhiteSpace))
        {
            errors.Required(null, "OciBundleCapabilities");
            return new Seq<string>(Array.Empty<string>());
        }

        var caps = new List<string>();
        foreach (string raw in values.Select(c => c.Trim()).Where(c => c.Length > 0 && !c.Equals("none", StringComparison.OrdinalIgnoreCase)))
        {
            string upper = raw.ToUpperInvariant();
            string name = upper.StartsWith("CAP_", StringComparison.Ordinal) ? upper : "CAP_" + upper;
            if (Known.Contains(name))
            {
                caps.Add(name);
            }
            else
            {
                errors.Add(Strings.InvalidCapability, raw);
            }
        }

        return new Seq<string>(caps.Distinct(StringComparer.Ordinal));
    }
}
