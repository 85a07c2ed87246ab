using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using OciBundle.Diagnostics;
using OciBundle.Model;

namespace OciBundle.Request;

/// <summary>The process: what runs (args), with what (environment), where, as whom, with which capabilities.</summary>
internal sealed partial record ProcessSpec(
    IReadOnlyList<string> Args,
    IReadOnlyList<string> AppArgs,
    IReadOnlyList<KeyValuePair<string, string>> Environment,
    string WorkingDirectory,
    UserSpec User,
    CapabilitySets Capabilities,
    bool NoNewPrivileges,
    IReadOnlyList<RlimitSpec> Rlimits,
    string? HttpPorts)
{
    /// <summary>The longest single argument or environment string Linux execs: MAX_ARG_STRLEN (32 pages) less the NUL.</summary>
    public const int MaxArgStrlen = 131071;

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex EnvName();

    /// <summary>
    /// The ports an ASP.NET Core app listens on: the user's <c>ASPNETCORE_HTTP_PORTS</c>, else none that we know when
    /// the user set <c>ASPNETCORE_URLS</c> (which wins over ports in ASP.NET Core), else the default the planner adds.
    /// </summary>
    public string? ListeningPorts =>
        Environment.FirstOrDefault(e => e.Key == "ASPNETCORE_HTTP_PORTS") is { Key: not null } ports ? ports.Value
        : Environment.Any(e => e.Key is "ASPNETCORE_URLS" or "DOTNET_URLS") ? null
        : HttpPorts;

    /// <summary>The default <c>ASPNETCORE_HTTP_PORTS</c> to add: only when the user named neither it nor <c>ASPNETCORE_URLS</c>.</summary>
    public string? DefaultHttpPorts => Environment.Any(e => e.Key is "ASPNETCORE_HTTP_PORTS" or "ASPNETCORE_URLS" or "DOTNET_URLS") ? null : HttpPorts;

    /// <summary><c>OciBundleHttpPorts</c> for an ASP.NET Core app: ';'-separated ports, or <c>none</c>; null for any other app.</summary>
    private static string? ParseHttpPorts(string? value, ParseErrors errors)
    {
        string text = (value ?? "").Trim();
        if (text.Length == 0 || text.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        string[] ports = text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (ports.Length == 0 || ports.Any(p => !ushort.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out ushort n) || n == 0))
        {
            errors.Add(Strings.InvalidHttpPorts, value);
            return null;
        }

        return string.Join(';', ports.Distinct(StringComparer.Ordinal));
    }

    /// <summary>The environment asks for invariant globalization (then ICU is left out).</summary>
    public bool InvariantGlobalization => Environment.Any(e => e.Key == "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT" && (e.Value == "1" || e.Value.Equals("true", StringComparison.OrdinalIgnoreCase)));

    public static ProcessSpec Parse(BundleOptions o, ParseErrors errors)
    {
        string cwd = ParseWorkingDirectory(o.WorkingDirectory, errors);
        UserSpec user = UserSpec.Parse(o.User, o.Rootless, errors, onBase: !string.IsNullOrWhiteSpace(o.ImageBase));
        return new ProcessSpec(
            ParseArgs(o.Args, "OciBundleArg", errors),
            ParseArgs(o.AppArgs, "OciBundleAppArg", errors),
            ParseEnvironment(o.Environment, errors),
            cwd,
            user,
            CapabilitySets.Parse(o.Capabilities, o.RootCapabilities, user, o.Rootless, errors),
            o.NoNewPrivileges,
            RlimitSpec.ParseAll(o.Rlimits, errors),
            ParseHttpPorts(o.HttpPorts, errors));
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

        string normalized = ContainerPath.Normalize(cwd);
        if (IsSystemFolder(normalized))
        {
            errors.Add(Strings.WorkingDirectoryReserved, value);
        }

        return normalized;
    }

    /// <summary>A working directory that is a system folder of the container (OCIB1071): the runtime's mounts, or a folder the system fills.</summary>
    public static bool IsSystemFolder(string normalized) =>
        normalized is "/" or "/etc" or "/tmp" or "/usr" or "/bin" or "/lib" or "/lib32" or "/lib64" or "/libx32" or "/sbin" or "/home" or "/root" or "/var" or "/run" or "/boot"
        || new[] { "/proc", "/sys", "/dev" }.Any(d => ContainerPath.IsSameOrInside(normalized, d));
}

/// <summary>The process's user: <c>uid[:gid]</c>, or a name of the generated <c>/etc/passwd</c>.</summary>
internal sealed partial record UserSpec(uint Uid, uint Gid)
{
    /// <summary>
    /// A <c>user[:group]</c> the product's own accounts (root, app) lack, given with a base image: resolved by the base's
    /// <c>/etc/passwd</c> and <c>/etc/group</c> once the base is opened (the plan's <c>BaseStep</c>), as an engine
    /// resolves it; <see cref="Uid"/> and <see cref="Gid"/> are <see cref="MaxId"/> until then. Null otherwise.
    /// </summary>
    public string? Name { get; init; }

    /// <summary>
    /// The largest id runc accepts for a process (libcontainer/user: "uids and gids must be in range 0-2147483647", for
    /// 32-bit systems); the same range is kept for every id a bundle names (the rootless mapping, a tmpfs's uid=).
    /// </summary>
    public const uint MaxId = int.MaxValue;

    [GeneratedRegex(@"^(\d{1,20})(?::(\d{1,20}))?$", RegexOptions.CultureInvariant)]
    private static partial Regex NumericUser();

    /// <summary>An id runc accepts: 0 to <see cref="MaxId"/>.</summary>
    public static bool InRange(ulong id) => id <= MaxId;

    public static UserSpec Parse(string? value, bool rootless, ParseErrors errors, bool onBase = false)
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
            if (ulong.TryParse(numeric.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong uid)
                && (!numeric.Groups[2].Success || ulong.TryParse(numeric.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            {
                ulong gid = numeric.Groups[2].Success ? ulong.Parse(numeric.Groups[2].Value, CultureInfo.InvariantCulture) : uid;
                if (!InRange(uid) || !InRange(gid))
                {
                    errors.Add(Strings.ReservedId, $"OciBundleUser '{value}'");
                    return new UserSpec(0, 0);
                }

                parsed = new UserSpec((uint)uid, (uint)gid);
            }
        }
        else if (user.IndexOfAny(new[] { ' ', '\t' }) < 0 && user.Split(':') is { Length: <= 2 } names && names.All(n => n.Length > 0))
        {
            Accounts.Account? account = Accounts.Find(names[0]);
            Accounts.Account? group = names.Length == 2 ? Accounts.Find(names[1]) : account;
            if ((account is null || group is null) && onBase)
            {
                parsed = new UserSpec(MaxId, MaxId) { Name = user };
            }
            else if (account is null || group is null)
            {
                errors.Add(Strings.UnknownUserName, value, string.Join(", ", Accounts.All.Select(a => a.Name)));
                return new UserSpec(0, 0);
            }
            else
            {
                parsed = new UserSpec(account.Id, group.Id);
            }
        }

        if (parsed is null)
        {
            errors.Add(Strings.InvalidUser, value);
            return new UserSpec(0, 0);
        }

        if (rootless && (parsed.Uid != 0 || parsed.Gid != 0))
        {
            errors.Add(Strings.RootlessUserNotMapped, value);
        }

        return parsed;
    }
}
