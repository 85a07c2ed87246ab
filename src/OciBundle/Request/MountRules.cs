using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;
using OciBundle.Diagnostics;

namespace OciBundle.Request;

/// <summary>
/// What runc 1.1 and the kernel accept of an <c>OciBundleMount</c>, checked at publish so a mount never stops the
/// container at start: paths and options without control characters, names and paths within NAME_MAX and PATH_MAX,
/// one option per entry (runc joins the ones it does not know with ',' into the file system's data, so a comma would
/// smuggle options past these checks), a file system type the kernel knows, every option of a tmpfs one the kernel
/// parses (<c>mm/shmem.c</c>) or one of runc's flags (<c>libcontainer/specconv</c>), and in a rootless bundle no
/// <c>uid=</c>/<c>gid=</c> but 0, the only id its user namespace maps.
/// </summary>
internal static partial class MountRules
{
    /// <summary>NAME_MAX and PATH_MAX less the NUL.</summary>
    private const int MaxName = 255, MaxPath = 4095;

    /// <summary>ULONG_MAX / BOGO_INODE_SIZE: the most inodes a tmpfs takes (nr_inodes=).</summary>
    private const ulong MaxInodes = 18014398509481983;

    /// <summary>runc's own option words (mountFlags, propagation, recursive attributes, extensions), never the file system's data.</summary>
    private static readonly HashSet<string> RuncFlags = new(StringComparer.Ordinal)
    {
        "acl", "async", "atime", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime", "loud", "mand", "noacl", "noatime", "nodev",
        "nodiratime", "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "relatime", "ro",
        "rw", "silent", "strictatime", "suid", "sync", "symfollow",
        "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable",
        "rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime", "rdiratime", "rrelatime", "rnorelatime",
        "rnoatime", "ratime", "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow", "tmpcopyup",
    };

    /// <summary>
    /// The options the kernel's own file systems take (their fs_parameter_spec, Linux 6.1 to 6.12; a name ending in '='
    /// takes a value), beside runc's flags: any other is "Unknown parameter" and mount(2) fails with EINVAL.
    /// </summary>
    private static readonly Dictionary<string, string[]> PseudoFileSystemOptions = new(StringComparer.Ordinal)
    {
        ["proc"] = new[] { "hidepid=", "gid=", "subset=" },
        ["sysfs"] = Array.Empty<string>(),
        ["mqueue"] = Array.Empty<string>(),
        ["devpts"] = new[] { "uid=", "gid=", "mode=", "ptmxmode=", "newinstance", "max=" },
        ["hugetlbfs"] = new[] { "uid=", "gid=", "mode=", "pagesize=", "size=", "nr_inodes=", "min_size=" },
        ["cgroup2"] = new[] { "nsdelegate", "favordynmods", "memory_localevents", "memory_recursiveprot", "memory_hugetlb_accounting", "pids_localevents" },
    };

    /// <summary>File systems a kernel loads as a module when a mount asks for them, beside the ones /proc/filesystems lists already.</summary>
    private static readonly string[] ModuleFileSystems =
    {
        "tmpfs", "proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2", "ramfs", "hugetlbfs", "overlay", "fuse", "fuseblk", "ext2", "ext3",
        "ext4", "xfs", "btrfs", "vfat", "msdos", "exfat", "ntfs3", "iso9660", "udf", "squashfs", "erofs", "nfs", "nfs4", "cifs", "smb3", "9p",
        "virtiofs", "ceph", "configfs", "debugfs", "tracefs", "securityfs", "bpf", "efivarfs", "pstore", "fusectl", "binfmt_misc", "autofs",
    };

    private static readonly Lazy<HashSet<string>> KnownFileSystems = new(() =>
    {
        var known = new HashSet<string>(ModuleFileSystems, StringComparer.Ordinal);
        try
        {
            foreach (string line in File.ReadLines("/proc/filesystems"))
            {
                known.Add(line.Split('\t', StringSplitOptions.RemoveEmptyEntries).Last().Trim());
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return known;
    });

    [GeneratedRegex("^[0-9]+[kKmMgGtTpPeE]?$", RegexOptions.CultureInvariant)]
    private static partial Regex MemSize();

    /// <summary>
    /// Checks one mount's destination, type, source and options; false (with the errors added) when runc or the kernel
    /// would refuse it.
    /// </summary>
    public static bool Check(string item, string destination, string type, string? source, bool isBind, IReadOnlyList<string> options, bool rootless, ParseErrors errors)
    {
        int before = errors.All.Count;
        string? problem = PathProblem("the destination", destination)
            ?? (source is not null && isBind ? PathProblem("the Source", source) : Controls("the Source", source ?? ""))
            ?? Controls("the Type", type)
            ?? (isBind || KnownFileSystems.Value.Contains(type) || type.StartsWith("fuse.", StringComparison.Ordinal) && Controls("", type) is null
                ? null
                : $"the Type '{Shown(type)}' is no file system the kernel knows (/proc/filesystems, or one it loads on demand): mount(2) fails with ENODEV");
        if (problem is not null)
        {
            errors.Add(Strings.InvalidMountField, Shown(item), problem);
        }

        foreach (string option in options)
        {
            string? wrong = Controls($"the option '{Shown(option)}'", option)
                ?? (option.Contains(',', StringComparison.Ordinal) ? $"the option '{Shown(option)}' holds a ',': runc would pass what follows it to the kernel as options of their own" : null)
                ?? (option == "remount" ? "the option 'remount' asks to change a mount that does not exist yet (mount(2) fails with EINVAL)" : null);
            if (wrong is not null)
            {
                errors.Add(Strings.InvalidMountField, Shown(item), wrong);
                continue;
            }

            if (rootless && UnmappedId(option))
            {
                errors.Add(Strings.UnmappedMountId, Shown(item), option);
                continue;
            }

            if (!isBind && type == "tmpfs" && TmpfsProblem(option) is { } tmpfs)
            {
                errors.Add(Strings.InvalidTmpfsOption, Shown(item), option, tmpfs);
            }
            else if (!isBind && PseudoFileSystemOptions.TryGetValue(type, out string[]? known) && !RuncFlags.Contains(option)
                && (!known.Contains(option.Split('=')[0] + (option.Contains('=', StringComparison.Ordinal) ? "=" : ""), StringComparer.Ordinal) || !ValueTaken(option)))
            {
                errors.Add(Strings.InvalidFileSystemOption, Shown(item), option, type, known.Length == 0 ? "none" : string.Join(", ", known.Select(k => k.EndsWith('=') ? k + "..." : k)));
            }
            else if (!isBind && type == "ramfs" && option.StartsWith("mode=", StringComparison.Ordinal) && !ValueTaken(option))
            {
                errors.Add(Strings.InvalidFileSystemOption, Shown(item), option, type, "mode= in octal; it ignores the others");
            }
        }

        if (!isBind && type == "overlay" && !options.Any(o => o.StartsWith("lowerdir=", StringComparison.Ordinal)))
        {
            errors.Add(Strings.OverlayWithoutLowerDir, Shown(item));
        }

        return errors.All.Count == before;
    }

    /// <summary>Whether the kernel takes the value of a known option of proc or devpts (its enum or number).</summary>
    private static bool ValueTaken(string option)
    {
        int equals = option.IndexOf('=', StringComparison.Ordinal);
        string key = equals < 0 ? option : option[..equals];
        string value = equals < 0 ? "" : option[(equals + 1)..];
        return key switch
        {
            "hidepid" => value is "0" or "1" or "2" or "4" or "off" or "noaccess" or "invisible" or "ptraceable",
            "subset" => value == "pid",
            "uid" or "gid" => ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong id) && UserSpec.InRange(id),
            "mode" or "ptmxmode" => value.Length is > 0 and <= 4 && value.All(c => c is >= '0' and <= '7'),
            "max" => uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _),
            _ => true,
        };
    }

    /// <summary>What the kernel would refuse of a tmpfs option (shmem_parse_one), or null when it takes it.</summary>
    public static string? TmpfsProblem(string option)
    {
        if (RuncFlags.Contains(option))
        {
            return null;
        }

        int equals = option.IndexOf('=', StringComparison.Ordinal);
        string key = equals < 0 ? option : option[..equals];
        string? value = equals < 0 ? null : option[(equals + 1)..];
        return (key, value) switch
        {
            ("inode32" or "inode64" or "noswap", null) => null,
            ("size", { } v) when v.EndsWith('%') => v.Length > 1 && v[..^1].All(char.IsAsciiDigit) ? null : "is not a number or a percentage",
            ("size", { } v) => Size(v) is null ? "is not a number with an optional k, m, g, t, p or e" : null,
            ("nr_blocks", { } v) => Size(v) is not { } blocks ? "is not a number with an optional k, m, g, t, p or e"
                : blocks > long.MaxValue ? $"is above {long.MaxValue} (LONG_MAX), the most blocks a tmpfs takes" : null,
            ("nr_inodes", { } v) => Size(v) is not { } n ? "is not a number with an optional k, m, g, t, p or e"
                : n > MaxInodes ? $"is above {MaxInodes}, the most inodes a tmpfs takes" : null,
            ("mode", { } v) => v.Length is > 0 and <= 5 && v.All(c => c is >= '0' and <= '7') && Convert.ToInt32(v, 8) <= 0b111_111_111_111 ? null : "is not an octal mode from 0 to 7777",
            ("uid" or "gid", { } v) => ulong.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out ulong id) && UserSpec.InRange(id) ? null : "is not an id from 0 to 2147483647",
            ("huge", "never" or "always" or "within_size" or "advise") => null,
            ("huge", _) => "is not one of never, always, within_size, advise",
            ("mpol", "default" or "local" or "interleave") => null,
            ("mpol", _) => "is not default, local or interleave (a policy with a node list depends on the NUMA nodes of the machine that runs the bundle)",
            _ => "is neither a tmpfs option (size, nr_blocks, nr_inodes, mode, uid, gid, huge, mpol, inode32, inode64, noswap) nor one of runc's flags",
        };
    }

    /// <summary>The number memparse() would read (decimal digits, an optional binary suffix), or null when it is none or overflows.</summary>
    private static BigInteger? Size(string value)
    {
        if (!MemSize().IsMatch(value))
        {
            return null;
        }

        char last = char.ToLowerInvariant(value[^1]);
        int shift = "kmgtpe".IndexOf(last, StringComparison.Ordinal) is var at and >= 0 ? 10 * (at + 1) : 0;
        BigInteger number = BigInteger.Parse(shift > 0 ? value[..^1] : value, CultureInfo.InvariantCulture) << shift;
        return number > ulong.MaxValue ? null : number;
    }

    /// <summary>runc's own check for a rootless container: a <c>uid=</c> or <c>gid=</c> that does not resolve to 0 (as its Sscanf("uid=%d") reads it).</summary>
    private static bool UnmappedId(string option)
    {
        if (!option.StartsWith("uid=", StringComparison.Ordinal) && !option.StartsWith("gid=", StringComparison.Ordinal))
        {
            return false;
        }

        string digits = new(option[4..].TakeWhile((c, i) => char.IsAsciiDigit(c) || (i == 0 && c is '-' or '+')).ToArray());
        return long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long id) && id != 0;
    }

    internal static string? PathProblem(string what, string path)
    {
        if (Controls(what, path) is { } control)
        {
            return control;
        }

        if (Encoding.UTF8.GetByteCount(path) > MaxPath)
        {
            return $"{what} is {Encoding.UTF8.GetByteCount(path)} bytes, over the 4095 of a path (PATH_MAX)";
        }

        return path.Split('/').FirstOrDefault(part => Encoding.UTF8.GetByteCount(part) > MaxName) is { } name
            ? $"{what} has a name of {Encoding.UTF8.GetByteCount(name)} bytes, over the 255 of a file name (NAME_MAX)"
            : null;
    }

    private static string? Controls(string what, string text) =>
        text.Any(char.IsControl) ? $"{what} holds a control character ({string.Join(", ", text.Where(char.IsControl).Distinct().Select(c => $"\\x{(int)c:x2}"))})" : null;

    /// <summary>A value as a log shows it: control characters escaped, at most 100 characters.</summary>
    public static string Shown(string raw)
    {
        string escaped = string.Concat(raw.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));
        return escaped.Length > 100 ? escaped[..100] + "..." : escaped;
    }
}
