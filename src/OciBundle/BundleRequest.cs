using System.Text.RegularExpressions;
using OciBundle.Closure;
using OciBundle.Diagnostics;
using OciBundle.Output;
using OciBundle.Spec;

namespace OciBundle;

/// <summary>
/// <see cref="BundleOptions"/> checked and normalised: every value here is valid, every default applied.
/// <see cref="Validate"/> reports every mistake at once, each with its own code, before anything is written.
/// </summary>
public sealed class BundleRequest
{
    private static readonly Regex EnvName = new("^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant);
    private static readonly Regex HostnameLabel = new("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
    private static readonly Regex ImageTag = new("^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$", RegexOptions.CultureInvariant);
    private static readonly Regex Port = new("^[0-9]{1,5}(/(tcp|udp|sctp))?$", RegexOptions.CultureInvariant);
    private static readonly Regex NumericUser = new(@"^(\d{1,10})(?::(\d{1,10}))?$", RegexOptions.CultureInvariant);

    /// <summary>The longest single argument or environment string Linux execs: MAX_ARG_STRLEN (32 pages) less the NUL.</summary>
    public const int MaxArgStrlen = 131071;

    /// <summary>uid_t -1: "no id" to every Linux call; runc refuses it.</summary>
    private const uint ReservedIdValue = uint.MaxValue;

    private BundleRequest(BundleOptions options) => Options = options;

    private static string Shorten(string value) => value.Length > 40 ? value[..40] + "..." : value;

    public BundleOptions Options { get; }
    public TargetArchitecture Arch { get; private set; } = null!;
    public string SpecVersion { get; private set; } = RuntimeSpecBuilder.NewestVersion;
    public string Hostname { get; private set; } = "app";
    public uint Uid { get; private set; }
    public uint Gid { get; private set; }
    public uint HostUid { get; private set; }
    public uint HostGid { get; private set; }
    public string WorkingDirectory { get; private set; } = "/app";
    public IReadOnlyList<MountOption> Mounts { get; private set; } = Array.Empty<MountOption>();
    public IReadOnlyList<FileOption> Files { get; private set; } = Array.Empty<FileOption>();
    public string BundleDirectory { get; private set; } = "";
    public string? ImageDirectory { get; private set; }

    /// <summary>The oci-archive to write beside the layout (<c>OciImageArchive</c>), absolute; null for none.</summary>
    public string? ImageArchive { get; private set; }
    public IReadOnlyList<string> ImagePorts { get; private set; } = Array.Empty<string>();

    /// <summary>The process's capabilities: the user's, normalised to CAP_ names, or those of <c>runc spec</c>.</summary>
    public IReadOnlyList<string> Capabilities { get; private set; } = RuntimeSpecBuilder.DefaultCapabilities;

    // Every capability Linux 6.x defines (include/uapi/linux/capability.h).
    private static readonly HashSet<string> KnownCapabilities = new(StringComparer.Ordinal)
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
        "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    };
    public string PublishDirectory { get; private set; } = "";
    public Sysroot Sysroot { get; private set; } = null!;
    public bool HostNetwork { get; private set; }

    /// <summary>Warnings met while validating (accepted aliases and the like).</summary>
    public List<OciBundleException> Warnings { get; } = new();

    /// <summary>The user and group of the generated <c>/etc/passwd</c>: name, id, home.</summary>
    public static readonly IReadOnlyList<(string Name, uint Id, string Home)> Accounts = new[]
    {
        ("root", 0u, "/root"),
        ("app", 1654u, "/home/app"),
    };

    /// <summary>Checks every option; returns the request, or throws the first of the errors after listing all in <paramref name="errors"/>.</summary>
    public static BundleRequest Validate(BundleOptions options, List<OciBundleException> errors)
    {
        var request = new BundleRequest(options);
        request.Check(errors);
        return request;
    }

    private List<OciBundleException> Errors { get; set; } = new();

    private void Check(List<OciBundleException> errors)
    {
        Errors = errors;
        void Fail(Diagnostic d, params object?[] args) => errors.Add(new OciBundleException(d, args));

        BundleOptions o = Options;

        if (!string.Equals(o.OS.Trim(), "linux", StringComparison.Ordinal))
        {
            Fail(Strings.UnsupportedOS, o.OS);
        }

        if (!string.IsNullOrEmpty(o.RuntimeIdentifier) && !o.RuntimeIdentifier.StartsWith("linux", StringComparison.OrdinalIgnoreCase))
        {
            Fail(Strings.NonLinuxRuntimeIdentifier, o.RuntimeIdentifier);
        }

        TargetArchitecture? ridArch = string.IsNullOrEmpty(o.RuntimeIdentifier) ? null : TargetArchitecture.FromRuntimeIdentifier(o.RuntimeIdentifier);
        if (string.IsNullOrWhiteSpace(o.Arch))
        {
            TargetArchitecture? fallback = ridArch ?? TargetArchitecture.Find(System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(), out _);
            if (fallback is null)
            {
                Fail(Strings.UnknownArch, o.RuntimeIdentifier ?? o.Arch, string.Join(", ", TargetArchitecture.GoArchNames));
            }
            else
            {
                Arch = fallback;
            }
        }
        else if (TargetArchitecture.Find(o.Arch, out string? alias) is { } arch)
        {
            Arch = arch;
            if (alias is not null)
            {
                Warnings.Add(new OciBundleException(Strings.ArchNormalized, alias, arch.GoArch));
            }

            if (ridArch is not null && ridArch != arch)
            {
                Fail(Strings.ArchDisagreesWithRuntimeIdentifier, o.Arch, o.RuntimeIdentifier, ridArch.GoArch);
            }
        }
        else
        {
            Fail(Strings.UnknownArch, o.Arch, string.Join(", ", TargetArchitecture.GoArchNames));
        }

        Arch ??= TargetArchitecture.Find("amd64", out _)!;

        if (string.IsNullOrWhiteSpace(o.SpecVersion))
        {
            SpecVersion = RuntimeSpecBuilder.NewestVersion;
        }
        else if (RuntimeSpecBuilder.SupportedVersions.Contains(o.SpecVersion.Trim()))
        {
            SpecVersion = o.SpecVersion.Trim();
        }
        else
        {
            Fail(Strings.UnknownSpecVersion, o.SpecVersion, string.Join(", ", RuntimeSpecBuilder.SupportedVersions));
        }

        // Working directory: where the app is published and where it starts.
        string cwd = string.IsNullOrWhiteSpace(o.WorkingDirectory) ? "/app" : o.WorkingDirectory.Trim();
        if (!cwd.StartsWith('/') || HasDotDot(cwd))
        {
            Fail(Strings.WorkingDirectoryNotAbsolute, o.WorkingDirectory);
        }
        else
        {
            WorkingDirectory = Sysroot.Normalize(cwd);
            if (WorkingDirectory is "/" or "/etc" or "/tmp" or "/usr" or "/bin" or "/lib" or "/sbin" or "/home" or "/root"
                || new[] { "/proc", "/sys", "/dev" }.Any(d => IsSameOrInside(WorkingDirectory, d)))
            {
                Fail(Strings.WorkingDirectoryReserved, o.WorkingDirectory);
            }
        }

        CheckHostname(Fail);
        CheckUser(Fail);
        CheckHostIds(Fail);

        string network = string.IsNullOrWhiteSpace(o.Network) ? "private" : o.Network.Trim().ToLowerInvariant();
        if (network is not ("private" or "host"))
        {
            Fail(Strings.InvalidNetwork, o.Network);
        }

        HostNetwork = network == "host";

        foreach (KeyValuePair<string, string> env in o.Environment)
        {
            if (!EnvName.IsMatch(env.Key))
            {
                Fail(Strings.InvalidEnvironmentVariableName, env.Key);
            }
            else if (env.Value.Contains('\0'))
            {
                Fail(Strings.InvalidEnvironmentVariableValue, env.Key);
            }
            else if (System.Text.Encoding.UTF8.GetByteCount(env.Key) + 1 + System.Text.Encoding.UTF8.GetByteCount(env.Value) is var length and > MaxArgStrlen)
            {
                Fail(Strings.ValueTooLong, $"OciBundleEnvironmentVariable '{env.Key}' (name=value)", length);
            }
        }

        foreach ((string item, IList<string> values) in new[] { ("OciBundleArg", o.Args), ("OciBundleAppArg", o.AppArgs) })
        {
            foreach (string value in values)
            {
                if (value.Contains('\0'))
                {
                    Fail(Strings.InvalidEnvironmentVariableValue, $"{item} '{Shorten(value)}'");
                }
                else if (System.Text.Encoding.UTF8.GetByteCount(value) is var length and > MaxArgStrlen)
                {
                    Fail(Strings.ValueTooLong, $"{item} '{Shorten(value)}'", length);
                }
            }
        }

        if (o.ImageDirectory is not null && !ImageTag.IsMatch(o.ImageTag))
        {
            Fail(Strings.InvalidImageTag, o.ImageTag);
        }

        var ports = new List<string>();
        foreach (string port in o.ImagePorts.Select(p => p.Trim()))
        {
            if (!Port.IsMatch(port) || int.Parse(port.Split('/')[0], System.Globalization.CultureInfo.InvariantCulture) is 0 or > 65535)
            {
                Fail(Strings.InvalidImagePort, port);
            }
            else
            {
                ports.Add(port.Contains('/') ? port : port + "/tcp");
            }
        }

        ImagePorts = ports;
        if (o.Capabilities is not null)
        {
            var caps = new List<string>();
            foreach (string raw in o.Capabilities.Select(c => c.Trim()).Where(c => c.Length > 0 && !c.Equals("none", StringComparison.OrdinalIgnoreCase)))
            {
                string name = raw.ToUpperInvariant().StartsWith("CAP_", StringComparison.Ordinal) ? raw.ToUpperInvariant() : "CAP_" + raw.ToUpperInvariant();
                if (KnownCapabilities.Contains(name))
                {
                    caps.Add(name);
                }
                else
                {
                    Fail(Strings.InvalidCapability, raw);
                }
            }

            Capabilities = caps.Distinct(StringComparer.Ordinal).ToList();
        }

        Mounts = CheckMounts(Fail);
        Files = CheckFiles(Fail);
        CheckDirectories(Fail);

        string sysroot = string.IsNullOrWhiteSpace(o.Sysroot) ? "/" : o.Sysroot.Trim();
        if (!Directory.Exists(sysroot))
        {
            Fail(Strings.SysrootNotFound, o.Sysroot);
        }

        Sysroot = new Sysroot(Directory.Exists(sysroot) ? sysroot : "/");

        if (o.Args.Count > 0 && o.Args.All(string.IsNullOrWhiteSpace))
        {
            Fail(Strings.EmptyArgs);
        }
    }

    private void CheckHostname(Action<Diagnostic, object?[]> fail)
    {
        string name = Options.Hostname.Trim();
        if (name.Length == 0)
        {
            Hostname = MakeHostname(Options.AppName);
            return;
        }

        if (name.Length > 253 || !name.Split('.').All(HostnameLabel.IsMatch))
        {
            fail(Strings.InvalidHostname, new object?[] { Options.Hostname });
            return;
        }

        Hostname = name;
    }

    /// <summary>A project name made a valid RFC 1123 hostname: lower case, other characters as '-', at most 63 characters.</summary>
    public static string MakeHostname(string name)
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

    private void CheckUser(Action<Diagnostic, object?[]> fail)
    {
        string user = Options.User.Trim();
        if (user.Length == 0)
        {
            user = Options.Rootless ? "0" : "1654";
        }

        Match numeric = NumericUser.Match(user);
        if (numeric.Success && uint.TryParse(numeric.Groups[1].Value, out uint uid))
        {
            uint gid = uid;
            if (numeric.Groups[2].Success && !uint.TryParse(numeric.Groups[2].Value, out gid))
            {
                fail(Strings.InvalidUser, new object?[] { Options.User });
                return;
            }

            Uid = uid;
            Gid = gid;
        }
        else if (user.IndexOfAny(new[] { ' ', '\t' }) < 0 && user.Split(':') is { Length: <= 2 } names && names.All(n => n.Length > 0))
        {
            (string Name, uint Id, string Home)? account = Accounts.Cast<(string Name, uint Id, string Home)?>().FirstOrDefault(a => a!.Value.Name == names[0]);
            (string Name, uint Id, string Home)? group = names.Length == 2
                ? Accounts.Cast<(string Name, uint Id, string Home)?>().FirstOrDefault(a => a!.Value.Name == names[1])
                : account;
            if (account is null || group is null)
            {
                fail(Strings.UnknownUserName, new object?[] { Options.User, string.Join(", ", Accounts.Select(a => a.Name)) });
                return;
            }

            Uid = account.Value.Id;
            Gid = group.Value.Id;
        }
        else
        {
            fail(Strings.InvalidUser, new object?[] { Options.User });
            return;
        }

        if (Uid == ReservedIdValue || Gid == ReservedIdValue)
        {
            fail(Strings.ReservedId, new object?[] { $"OciBundleUser '{Options.User}'" });
            return;
        }

        if (Options.Rootless && (Uid != 0 || Gid != 0))
        {
            fail(Strings.RootlessUserNotMapped, new object?[] { Options.User });
        }
    }

    /// <summary>
    /// The host user a rootless bundle's root maps to: OciBundleHostUid/Gid, else the ids running the build. A build
    /// run as root has no such user: it takes the ids of the user who ran sudo (SUDO_UID, SUDO_GID), else stops,
    /// since root mapped to root would not run for the unprivileged user the bundle is meant for.
    /// </summary>
    private void CheckHostIds(Action<Diagnostic, object?[]> fail)
    {
        if (!Options.Rootless || CurrentIds.Uid != 0)
        {
            HostUid = ParseHostId(Options.HostUid, "OciBundleHostUid", CurrentIds.Uid, fail);
            HostGid = ParseHostId(Options.HostGid, "OciBundleHostGid", CurrentIds.Gid, fail);
            return;
        }

        uint? sudoUid = ParseId(Environment.GetEnvironmentVariable("SUDO_UID")) is { } su and not 0 ? su : null;
        if (string.IsNullOrWhiteSpace(Options.HostUid) && sudoUid is null)
        {
            fail(Strings.RootlessHostIdsUnknown, Array.Empty<object?>());
            return;
        }

        HostUid = ParseHostId(Options.HostUid, "OciBundleHostUid", sudoUid ?? 0, fail);
        uint gid = string.IsNullOrWhiteSpace(Options.HostUid) && ParseId(Environment.GetEnvironmentVariable("SUDO_GID")) is { } sg ? sg : PrimaryGroupOf(HostUid);
        HostGid = ParseHostId(Options.HostGid, "OciBundleHostGid", gid, fail);
    }

    private static uint? ParseId(string? text) =>
        uint.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint id) ? id : null;

    /// <summary>The primary group of a host user, from the build machine's /etc/passwd; the uid itself when it is not listed.</summary>
    private static uint PrimaryGroupOf(uint uid)
    {
        try
        {
            foreach (string line in File.ReadLines("/etc/passwd"))
            {
                string[] fields = line.Split(':');
                if (fields.Length > 3 && fields[2] == uid.ToString(System.Globalization.CultureInfo.InvariantCulture)
                    && uint.TryParse(fields[3], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint gid))
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

    private static uint ParseHostId(string? text, string property, uint fallback, Action<Diagnostic, object?[]> fail)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (uint.TryParse(text.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint id))
        {
            if (id == ReservedIdValue)
            {
                fail(Strings.ReservedId, new object?[] { $"{property} '{text}'" });
            }

            return id;
        }

        fail(Strings.InvalidHostId, new object?[] { property, text });
        return fallback;
    }

    private List<MountOption> CheckMounts(Action<Diagnostic, object?[]> fail)
    {
        var result = new List<MountOption>();
        foreach (MountOption m in Options.Mounts)
        {
            string dest = m.Destination.Trim();
            if (!dest.StartsWith('/'))
            {
                fail(Strings.MountDestinationNotAbsolute, new object?[] { m.Destination });
                continue;
            }

            if (HasDotDot(dest))
            {
                fail(Strings.MountDestinationHasDotDot, new object?[] { m.Destination });
                continue;
            }

            string normalized = Sysroot.Normalize(dest);
            string? hidden = normalized == "/" ? "the root of the container"
                : IsSameOrInside(normalized, "/proc") ? "/proc, the runtime's own mount (runc refuses mounts there)"
                : normalized is "/dev" or "/sys" ? $"{normalized}, a mount of the runtime's own"
                : IsSameOrInside(WorkingDirectory, normalized) ? $"the app in {WorkingDirectory} (OciBundleWorkingDirectory)"
                : null;
            if (hidden is not null)
            {
                fail(Strings.MountDestinationReserved, new object?[] { m.Destination, hidden });
                continue;
            }

            var options = m.Options.Select(x => x.Trim()).Where(x => x.Length > 0).ToList();
            bool isBind = options.Contains("bind") || options.Contains("rbind");
            string? type = string.IsNullOrWhiteSpace(m.Type) ? (isBind ? "bind" : null) : m.Type.Trim();
            if (type is null)
            {
                fail(Strings.MountTypeMissing, new object?[] { m.Destination });
                continue;
            }

            isBind |= type is "bind";
            if (type == "bind" && !isBind)
            {
                options.Insert(0, "rbind");
            }

            string? source = string.IsNullOrWhiteSpace(m.Source) ? null : m.Source.Trim();
            if (isBind && (source is null || !source.StartsWith('/')))
            {
                fail(Strings.BindMountSourceNotAbsolute, new object?[] { m.Destination, m.Source });
                continue;
            }

            result.Add(new MountOption { Destination = Sysroot.Normalize(dest), Type = type, Source = source ?? type, Options = options });
        }

        return result;
    }

    private List<FileOption> CheckFiles(Action<Diagnostic, object?[]> fail)
    {
        var result = new List<FileOption>();
        foreach (FileOption f in Options.Files)
        {
            string target = f.TargetPath.Trim();
            if (target.Length == 0 || HasDotDot(target))
            {
                fail(Strings.TargetPathOutsideRootfs, new object?[] { f.Source, f.TargetPath });
                continue;
            }

            if (!File.Exists(f.Source) && !Directory.Exists(f.Source))
            {
                fail(Strings.FileSourceNotFound, new object?[] { f.Source });
                continue;
            }

            string absolute = target.StartsWith('/') ? target : Sysroot.Join(WorkingDirectory, target);
            result.Add(new FileOption { Source = Path.GetFullPath(f.Source), TargetPath = Sysroot.Normalize(absolute) });
        }

        return result;
    }

    private void CheckDirectories(Action<Diagnostic, object?[]> fail)
    {
        BundleOptions o = Options;
        if (string.IsNullOrWhiteSpace(o.PublishDirectory) || !Directory.Exists(o.PublishDirectory))
        {
            fail(Strings.PublishDirectoryNotFound, new object?[] { o.PublishDirectory });
            return;
        }

        PublishDirectory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.PublishDirectory));
        string? project = string.IsNullOrWhiteSpace(o.ProjectDirectory) ? null : Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.ProjectDirectory));
        var protectedFolders = new List<string>(o.ProtectedDirectories);
        if (project is not null)
        {
            protectedFolders.Add(project);
        }

        if (o.WriteBundle)
        {
            BundleDirectory = CheckOutputDirectory(o.BundleDirectory, "OciBundleDir", OutputKind.Bundle, protectedFolders) ?? "";
        }

        if (o.ImageDirectory is not null)
        {
            ImageDirectory = CheckOutputDirectory(o.ImageDirectory, "OciImageDir", OutputKind.Image, protectedFolders);
            if (ImageDirectory is not null && BundleDirectory.Length > 0 && (IsSameOrInside(ImageDirectory, BundleDirectory) || IsSameOrInside(BundleDirectory, ImageDirectory)))
            {
                fail(Strings.BundleDirectoryUnsafe, new object?[] { "OciImageDir", o.ImageDirectory, $"it is, holds or is inside OciBundleDir {BundleDirectory}, and each is replaced as a whole" });
                ImageDirectory = null;
            }
        }

        if (ImageDirectory is not null && !string.IsNullOrWhiteSpace(o.ImageArchive))
        {
            string archive = Path.GetFullPath(o.ImageArchive);
            string? inside = new[] { (ImageDirectory, "OciImageDir"), (BundleDirectory, "OciBundleDir"), (PublishDirectory, "the publish folder") }
                .Where(d => d.Item1.Length > 0 && IsSameOrInside(archive, d.Item1)).Select(d => d.Item2).FirstOrDefault();
            if (inside is not null)
            {
                fail(Strings.ArchiveNotOurs, new object?[] { o.ImageArchive, $"is inside {inside}, which is replaced as a whole" });
            }
            else if (OutputFolder.ProtectedReason(archive, Array.Empty<string>()) is { } reason)
            {
                fail(Strings.ArchiveNotOurs, new object?[] { o.ImageArchive, reason.Replace("it is", "is", StringComparison.Ordinal) });
            }
            else if (OutputFolder.CheckArchive(archive) is { } error)
            {
                Errors.Add(error);
            }
            else
            {
                ImageArchive = archive;
            }
        }
    }

    /// <summary>
    /// An output folder is replaced as a whole, so it must be missing, empty or hold an output of ours, and never a
    /// folder of the system or the project: checked before anything is deleted (and again under the lock).
    /// </summary>
    private string? CheckOutputDirectory(string value, string property, OutputKind kind, IReadOnlyList<string> protectedFolders)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            Errors.Add(new OciBundleException(Strings.BundleDirectoryUnsafe, property, value, "it is empty"));
            return null;
        }

        string dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(value));
        if (IsSameOrInside(PublishDirectory, dir))
        {
            Errors.Add(new OciBundleException(Strings.BundleDirectoryUnsafe, property, value, $"it is or contains the publish folder {PublishDirectory}"));
        }
        else if (IsSameOrInside(dir, PublishDirectory))
        {
            Errors.Add(new OciBundleException(Strings.BundleDirectoryInsidePublishDirectory, property, value, PublishDirectory));
        }
        else if (OutputFolder.ProtectedReason(dir, protectedFolders) is { } reason)
        {
            Errors.Add(new OciBundleException(Strings.BundleDirectoryUnsafe, property, value, reason));
        }
        else if (OutputFolder.CheckReplaceable(dir, property, kind) is { } error)
        {
            Errors.Add(error);
        }
        else
        {
            return dir;
        }

        return null;
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="dir"/> or below it.</summary>
    public static bool IsSameOrInside(string path, string dir) => OutputFolder.IsSameOrInside(path, dir);

    private static bool HasDotDot(string path) => path.Split('/').Contains("..");
}
