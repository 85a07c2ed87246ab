using Newtonsoft.Json.Linq;

namespace OciBundle.SeccompProfiles;

/// <summary>
/// A seccomp profile resolved for one target and the capabilities in effect (<see cref="SeccompProfile"/>): plain OCI,
/// what config.json's <c>linux.seccomp</c> holds, typed. <see cref="ToJson"/> writes it in the specification's field
/// order, every optional field left out when it is not set.
/// </summary>
/// <param name="DefaultAction">The action of every call no rule names.</param>
/// <param name="DefaultErrnoRet">The errno of the default action, when it is one that returns an errno and the profile sets it.</param>
/// <param name="Architectures">The architectures the filter applies to, the target's first; no duplicates.</param>
/// <param name="Flags">The filter flags; no duplicates.</param>
/// <param name="ListenerPath">The socket of a listener for SCMP_ACT_NOTIFY.</param>
/// <param name="ListenerMetadata">What the runtime passes to that listener.</param>
/// <param name="Syscalls">The rules that hold for the target and the capabilities, in the profile's order.</param>
internal sealed record SeccompFilter(
    string DefaultAction,
    uint? DefaultErrnoRet,
    IReadOnlyList<string> Architectures,
    IReadOnlyList<string> Flags,
    string? ListenerPath,
    string? ListenerMetadata,
    IReadOnlyList<SeccompSyscallRule> Syscalls)
{
    /// <summary>Lets every call through that no rule names (or logs it and lets it through).</summary>
    public bool AllowsByDefault => DefaultAction is "SCMP_ACT_ALLOW" or "SCMP_ACT_LOG";

    /// <summary>The <c>linux.seccomp</c> object of config.json: a new object on each call, for the caller to embed.</summary>
    public JObject ToJson()
    {
        var seccomp = new JObject { ["defaultAction"] = DefaultAction };
        if (DefaultErrnoRet is { } errno)
        {
            seccomp["defaultErrnoRet"] = errno;
        }

        seccomp["architectures"] = new JArray(Architectures);
        if (Flags.Count > 0)
        {
            seccomp["flags"] = new JArray(Flags);
        }

        if (ListenerPath is not null)
        {
            seccomp["listenerPath"] = ListenerPath;
        }

        if (ListenerMetadata is not null)
        {
            seccomp["listenerMetadata"] = ListenerMetadata;
        }

        if (Syscalls.Count > 0)
        {
            seccomp["syscalls"] = new JArray(Syscalls.Select(r => r.ToJson()));
        }

        return seccomp;
    }
}

/// <summary>One rule of a resolved filter: the calls it names, its action, and the argument comparisons that must all hold.</summary>
internal sealed record SeccompSyscallRule(IReadOnlyList<string> Names, string Action, uint? ErrnoRet, IReadOnlyList<SeccompArgument> Args)
{
    public JObject ToJson()
    {
        var call = new JObject { ["names"] = new JArray(Names), ["action"] = Action };
        if (ErrnoRet is { } ret)
        {
            call["errnoRet"] = ret;
        }

        if (Args.Count > 0)
        {
            call["args"] = new JArray(Args.Select(a => new JObject { ["index"] = a.Index, ["value"] = a.Value, ["valueTwo"] = a.ValueTwo, ["op"] = a.Op }));
        }

        return call;
    }
}

/// <summary>One argument comparison of a rule: argument <paramref name="Index"/> compared by <paramref name="Op"/>.</summary>
internal sealed record SeccompArgument(uint Index, ulong Value, ulong ValueTwo, string Op);
