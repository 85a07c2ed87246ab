using System.Globalization;
using System.Text.RegularExpressions;
using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Model;

namespace OciBundle.Request;

/// <summary>How the container is set apart from the host: namespaces, the root's writability, the user mapping, mounts.</summary>
internal sealed record IsolationSpec(
    string SpecVersion,
    string Hostname,
    bool HostNetwork,
    bool ReadOnly,
    RootlessSpec? Rootless,
    IReadOnlyList<MountSpec> Mounts,
    SeccompSpec Seccomp,
    IReadOnlyList<string> MaskedPaths,
    bool MaskedPathsCleared,
    IReadOnlyList<string> ReadonlyPaths,
    bool ReadonlyPathsCleared)
{
    /// <summary>The runtime-spec versions config.json can be written for; each validates against its schema.</summary>
    public static readonly IReadOnlyList<string> SpecVersions = new[] { "1.0.0", "1.2.1", "1.3.0" };

    public static IsolationSpec Parse(BundleOptions o, ProcessSpec process, ContentSpec content, ParseErrors errors)
    {
        string version = errors.Required(o.SpecVersion, "OciBundleSpecVersion");
        if (version.Length > 0 && !SpecVersions.Contains(version))
        {
            errors.Add(Strings.UnknownSpecVersion, o.SpecVersion, string.Join(", ", SpecVersions));
        }

        string network = errors.Required(o.Network, "OciBundleNetwork").ToLowerInvariant();
        if (network.Length > 0 && network is not ("private" or "host"))
        {
            errors.Add(Strings.InvalidNetwork, o.Network);
        }

        var masked = HardeningPaths.Parse(o.MaskedPaths, o.MaskedPathItems, "OciBundleMaskedPaths", "OciBundleMaskedPath", process.WorkingDirectory, errors);
        var readonlyPaths = HardeningPaths.Parse(o.ReadonlyPaths, o.ReadonlyPathItems, "OciBundleReadonlyPaths", "OciBundleReadonlyPath", process.WorkingDirectory, errors);
        return new IsolationSpec(
            version,
            HostnameSpec.Parse(o.Hostname, o.AppName, errors),
            network == "host",
            o.ReadOnly,
            o.Rootless ? RootlessSpec.Parse(o.HostUid, o.HostGid, errors) : RootlessSpec.ParseIdsOnly(o.HostUid, o.HostGid, errors),
            new Seq<MountSpec>(o.Mounts.Select(m => MountSpec.Parse(m, process.WorkingDirectory, o.Rootless, errors)).OfType<MountSpec>()),
            SeccompSpec.Parse(o.Seccomp, content.Arch.GoArch, process.Capabilities.Bounding, version, errors),
            masked.Paths,
            masked.Cleared,
            readonlyPaths.Paths,
            readonlyPaths.Cleared);
    }
}

/// <summary>The container hostname: the user's (RFC 1123), or the project name made one.</summary>
internal static partial class HostnameSpec
{
    /// <summary>HOST_NAME_MAX: the longest name sethostname(2) takes.</summary>
    public const int MaxLength = 64;

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex Label();

    public static string Parse(string? value, string appName, ParseErrors errors)
    {
        string name = (value ?? "").Trim();
        if (name.Length == 0)
        {
            return FromName(appName); // computed: only the engine knows how to make a hostname of a name
        }

        // Linux's HOST_NAME_MAX: sethostname(2) refuses a longer name with EINVAL, and runc fails to start the container.
        if (name.Length > MaxLength || !name.Split('.').All(Label().IsMatch))
        {
            errors.Add(Strings.InvalidHostname, value);
        }

        return name;
    }

    /// <summary>A project name made a valid RFC 1123 hostname: lower case, other characters as '-', at most 63 characters.</summary>
    public static string FromName(string name)
    {
        var chars = name.ToLowerInvariant().Select(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') ? c : '-').ToArray();
        string hostname = new string(chars).Trim('-');
        while (hostname.Contains("--", StringComparison.Ordinal))
        {
            hostname = hostname.Replace("--", "-", StringComparison.Ordinal);
        }

        hostname = hostname.Length > 63 ? hostname[..63].TrimEnd('-') : hostname;
        return hostname.Length == 0 ? "app" : hostname;
    }
}

/// <summary>
/// A rootless bundle's user namespace: container root maps to one host user. By default the ids running the build;
/// a build run as root has no such user, so it takes the ids of the user who ran sudo, else stops (root mapped to
/// root would not run for the unprivileged user the bundle is meant for).
/// </summary>
internal sealed record RootlessSpec(uint HostUid, uint HostGid)
{
    public static RootlessSpec? Parse(string? uidText, string? gidText, ParseErrors errors)
    {
        if (CurrentIds.Uid != 0)
        {
            return new RootlessSpec(ParseId(uidText, "OciBundleHostUid", CurrentIds.Uid, errors), ParseId(gidText, "OciBundleHostGid", CurrentIds.Gid, errors));
        }

        uint? sudoUid = TryId(Environment.GetEnvironmentVariable("SUDO_UID")) is { } su and not 0 ? su : null;
        if (string.IsNullOrWhiteSpace(uidText) && sudoUid is null)
        {
            errors.Add(Strings.RootlessHostIdsUnknown);
            return null;
        }

        uint uid = ParseId(uidText, "OciBundleHostUid", sudoUid ?? 0, errors);
        uint gid = string.IsNullOrWhiteSpace(uidText) && TryId(Environment.GetEnvironmentVariable("SUDO_GID")) is { } sg ? sg : PrimaryGroupOf(uid);
        return new RootlessSpec(uid, ParseId(gidText, "OciBundleHostGid", gid, errors));
    }

    /// <summary>Not rootless: the host ids are unused, but a mistake in them is still reported.</summary>
    public static RootlessSpec? ParseIdsOnly(string? uidText, string? gidText, ParseErrors errors)
    {
        ParseId(uidText, "OciBundleHostUid", 0, errors);
        ParseId(gidText, "OciBundleHostGid", 0, errors);
        return null;
    }

    private static uint? TryId(string? text) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out uint id) ? id : null;

    private static uint ParseId(string? text, string property, uint fallback, ParseErrors errors)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (TryId(text.Trim()) is not { } id)
        {
            errors.Add(Strings.InvalidHostId, property, text);
            return fallback;
        }

        if (!UserSpec.InRange(id))
        {
            errors.Add(Strings.ReservedId, $"{property} '{text}'");
        }

        return id;
    }

    /// <summary>The primary group of a host user, from the build machine's /etc/passwd; the uid itself when it is not listed.</summary>
    private static uint PrimaryGroupOf(uint uid)
    {
        try
        {
            foreach (string line in File.ReadLines("/etc/passwd"))
            {
                string[] fields = line.Split(':');
                if (fields.Length > 3 && fields[2] == uid.ToString(CultureInfo.InvariantCulture) && TryId(fields[3]) is { } gid)
                {
                    return gid;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return uid;
    }
}

/// <summary>One mount: an absolute destination that hides nothing the container needs, a type, and a source.</summary>
internal sealed record MountSpec(string Destination, string Type, string Source, IReadOnlyList<string> Options)
{
    /// <summary>A bind mount, by its type or its options (<c>Type="none" Options="rbind"</c> is runc spec's own form).</summary>
    public bool IsBind => Type == "bind" || Options.Contains("bind") || Options.Contains("rbind");

    /// <summary>A bind mount of a host file (not a folder): its mount point in rootfs is an empty file.</summary>
    public bool IsFileBind => IsBind && Source.StartsWith('/') && NativeMethods.LStat(Source) is { } st && (st.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFREG;

    public static MountSpec? Parse(MountOption m, string workingDirectory, bool rootless, ParseErrors errors)
    {
        string dest = m.Destination.Trim();
        if (!dest.StartsWith('/'))
        {
            errors.Add(Strings.MountDestinationNotAbsolute, m.Destination);
            return null;
        }

        if (ContainerPath.HasDotDot(dest))
        {
            errors.Add(Strings.MountDestinationHasDotDot, m.Destination);
            return null;
        }

        string normalized = ContainerPath.Normalize(dest);
        string? hidden = normalized == "/" ? "the root of the container"
            : ContainerPath.IsSameOrInside(normalized, "/proc") ? "/proc, the runtime's own mount (runc refuses mounts there)"
            : normalized is "/dev" or "/sys" ? $"{normalized}, a mount of the runtime's own"
            : ContainerPath.IsSameOrInside(normalized, "/sys") && (rootless || !ContainerPath.IsSameOrInside(normalized, "/sys/fs/cgroup"))
                ? "/sys, the kernel's sysfs, read-only in the container (runc cannot make a mount point there: mkdir fails with EROFS)"
            : ContainerPath.IsSameOrInside(workingDirectory, normalized) ? $"the app in {workingDirectory} (OciBundleWorkingDirectory)"
            : null;
        if (hidden is not null)
        {
            errors.Add(Strings.MountDestinationReserved, m.Destination, hidden);
            return null;
        }

        // Below the app user's home, the mount point is a name that user could change on the host: a symlink put there
        // sends the mount elsewhere (runc resolves the destination inside rootfs), over /app say. At the home itself it is not.
        if (normalized != Accounts.App.Home && ContainerPath.IsSameOrInside(normalized, Accounts.App.Home))
        {
            errors.Add(Strings.UnderAppHome, $"OciBundleMount '{m.Destination}' (its mount point)");
            return null;
        }

        var options = m.Options.Select(x => x.Trim()).Where(x => x.Length > 0).ToList();
        bool isBind = options.Contains("bind") || options.Contains("rbind");
        string? type = string.IsNullOrWhiteSpace(m.Type) ? (isBind ? "bind" : null) : m.Type.Trim();
        if (type is null)
        {
            errors.Add(Strings.MountTypeMissing, m.Destination);
            return null;
        }

        isBind |= type is "bind";
        if (type == "bind" && !options.Contains("bind") && !options.Contains("rbind"))
        {
            options.Insert(0, "rbind");
        }

        string? source = string.IsNullOrWhiteSpace(m.Source) ? null : m.Source.Trim();
        if (isBind && (source is null || !source.StartsWith('/')))
        {
            errors.Add(Strings.BindMountSourceNotAbsolute, m.Destination, m.Source);
            return null;
        }

        if (!MountRules.Check(m.Destination, normalized, type, source, isBind, options, rootless, errors))
        {
            return null;
        }

        return new MountSpec(normalized, type, source ?? type, new Seq<string>(options));
    }
}
