using System.Numerics;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace OciBundle.SeccompProfiles;

/// <summary>
/// The <c>linux.seccomp</c> object of config.json: the default allow-list, or a user's profile, resolved for one target
/// architecture and the process's capabilities the way Docker resolves a profile (moby <c>profiles/seccomp/seccomp_linux.go</c>,
/// <c>setupSeccomp</c>). Rules whose <c>includes</c>/<c>excludes</c> do not hold are dropped; what is left is plain OCI.
/// </summary>
/// <remarks>
/// <c>minKernel</c> is taken as met, in <c>includes</c> (the rule is kept) and in <c>excludes</c> (the rule is dropped): the
/// runtime's kernel is unknown when the bundle is built, the bundles target current kernels, and a runtime whose libseccomp
/// does not know a newer system call answers ENOSYS for it rather than failing.
/// </remarks>
internal static class SeccompProfile
{
    private const string Allow = "SCMP_ACT_ALLOW";
    private const string Errno = "SCMP_ACT_ERRNO";

    /// <summary>CLONE_NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP: clone may make no namespace.</summary>
    private const ulong CloneNamespaceFlags = 0x7E020000;

    private static readonly string[] Actions =
    {
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", Errno, "SCMP_ACT_TRACE", Allow, "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
    };

    private static readonly string[] Operators = { "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ" };

    private static readonly string[] Flags = { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" };

    /// <summary>The architectures of the runtime specification's schema (v1.3.0).</summary>
    private static readonly string[] KnownArchitectures =
    {
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
        "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
        "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
    };

    /// <summary>
    /// GOARCH → the libseccomp name that <c>includes.arches</c>/<c>excludes.arches</c> use (moby's <c>goToNative</c>), the main
    /// architecture and the sub-architectures of moby's default <c>archMap</c> (none where that map does not list the target).
    /// </summary>
    private static readonly Dictionary<string, SeccompTarget> Targets = new(StringComparer.Ordinal)
    {
        ["amd64"] = new("amd64", "SCMP_ARCH_X86_64", new[] { "SCMP_ARCH_X86", "SCMP_ARCH_X32" }),
        ["arm64"] = new("arm64", "SCMP_ARCH_AARCH64", new[] { "SCMP_ARCH_ARM" }),
        ["arm"] = new("arm", "SCMP_ARCH_ARM", Array.Empty<string>()),
        ["386"] = new("x86", "SCMP_ARCH_X86", Array.Empty<string>()),
        ["ppc64le"] = new("ppc64le", "SCMP_ARCH_PPC64LE", Array.Empty<string>()),
        ["s390x"] = new("s390x", "SCMP_ARCH_S390X", new[] { "SCMP_ARCH_S390" }),
        ["riscv64"] = new("riscv64", "SCMP_ARCH_RISCV64", Array.Empty<string>()),
        ["loong64"] = new("loong64", "SCMP_ARCH_LOONGARCH64", Array.Empty<string>()),
    };

    /// <summary>
    /// The default allow-list: equivalent to moby's <c>profiles/seccomp/default.json</c> as of moby/moby commit
    /// 00f3d189e420d485e42d15fe494f96d272284e0e, written here as our own data (the kernel's system call names are facts),
    /// less <c>io_uring_setup</c>, <c>io_uring_enter</c> and <c>io_uring_register</c>, which Docker 25 (moby#46762) and
    /// containerd 2.0 removed too: io_uring's operations are not system calls, so no seccomp filter sees them.
    /// Everything not listed gets the default action, EPERM.
    /// </summary>
    private static readonly Rule[] DefaultRules =
    {
        Of("accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres " +
            "clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat " +
            "dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 " +
            "execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown " +
            "fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs " +
            "fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 " +
            "geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom " +
            "getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid " +
            "gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy " +
            "io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit " +
            "ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen " +
            "listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir " +
            "mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 " +
            "mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at " +
            "nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect " +
            "poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 " +
            "read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat " +
            "renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend " +
            "rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max " +
            "sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr " +
            "sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 " +
            "sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority " +
            "setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt " +
            "set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask " +
            "sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee " +
            "tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create " +
            "timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink " +
            "unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev"),
        Of("process_vm_readv process_vm_writev ptrace"), // moby: includes.minKernel 4.8
        Of("socket", arg: new Arg(0, 40, 0, "SCMP_CMP_NE")), // every address family but AF_VSOCK (40)
        Of("personality", arg: new Arg(0, 0x0, 0, "SCMP_CMP_EQ")),
        Of("personality", arg: new Arg(0, 0x8, 0, "SCMP_CMP_EQ")),
        Of("personality", arg: new Arg(0, 0x20000, 0, "SCMP_CMP_EQ")),
        Of("personality", arg: new Arg(0, 0x20008, 0, "SCMP_CMP_EQ")),
        Of("personality", arg: new Arg(0, 0xFFFFFFFF, 0, "SCMP_CMP_EQ")),
        Of("sync_file_range2 swapcontext", arches: "ppc64le"),
        Of("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls", arches: "arm arm64"),
        Of("arch_prctl", arches: "amd64 x32"),
        Of("modify_ldt", arches: "amd64 x32 x86"),
        Of("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr", arches: "s390 s390x"),
        Of("riscv_flush_icache", arches: "riscv64"),
        Of("open_by_handle_at", caps: "CAP_DAC_READ_SEARCH"),
        Of("bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount open_tree perf_event_open " +
            "quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare", caps: "CAP_SYS_ADMIN"),
        Of("clone", arg: new Arg(0, CloneNamespaceFlags, 0, "SCMP_CMP_MASKED_EQ"), notCaps: "CAP_SYS_ADMIN", notArches: "s390 s390x"),
        Of("clone", arg: new Arg(1, CloneNamespaceFlags, 0, "SCMP_CMP_MASKED_EQ"), arches: "s390 s390x", notCaps: "CAP_SYS_ADMIN"), // s390 passes flags second
        Of("clone3", Errno, errnoRet: 38, notCaps: "CAP_SYS_ADMIN"), // ENOSYS: glibc (and so .NET's threads) falls back to clone
        Of("reboot", caps: "CAP_SYS_BOOT"),
        Of("chroot", caps: "CAP_SYS_CHROOT"),
        Of("delete_module init_module finit_module", caps: "CAP_SYS_MODULE"),
        Of("acct", caps: "CAP_SYS_PACCT"),
        Of("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace", caps: "CAP_SYS_PTRACE"),
        Of("iopl ioperm", caps: "CAP_SYS_RAWIO"),
        Of("settimeofday stime clock_settime clock_settime64", caps: "CAP_SYS_TIME"),
        Of("vhangup", caps: "CAP_SYS_TTY_CONFIG"),
        Of("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", caps: "CAP_SYS_NICE"),
        Of("syslog", caps: "CAP_SYSLOG"),
        Of("bpf", caps: "CAP_BPF"),
        Of("perf_event_open", caps: "CAP_PERFMON"),
    };

    /// <summary>The default profile (EPERM for everything not allowed) for a GOARCH and the process's capabilities.</summary>
    // What runtime-spec 1.0.0's schema knows (defs-linux.json): later versions added the rest.
    private static readonly string[] Spec100Actions = { "SCMP_ACT_KILL", "SCMP_ACT_TRAP", Errno, "SCMP_ACT_TRACE", Allow };

    private static readonly string[] Spec100Architectures =
    {
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64",
    };

    /// <summary>The architecture of the default profile for <paramref name="goArch"/> that runtime-spec 1.0.0 does not know, if any.</summary>
    public static string? DefaultArchitectureUnknownToSpec100(string goArch) =>
        Target(goArch).Main is var main && !Spec100Architectures.Contains(main) ? main : null;

    /// <summary>The first action or architecture of a resolved profile that runtime-spec 1.0.0 does not know, if any.</summary>
    public static string? UnknownToSpec100(SeccompFilter resolved) =>
        new[] { resolved.DefaultAction }.Concat(resolved.Syscalls.Select(r => r.Action)).FirstOrDefault(a => !Spec100Actions.Contains(a)) is { } action ? $"seccomp action {action}"
        : resolved.Architectures.FirstOrDefault(a => !Spec100Architectures.Contains(a)) is { } arch ? $"seccomp architecture {arch}"
        : null;

    public static SeccompFilter Default(string goArch, IReadOnlyCollection<string> capabilities)
    {
        var target = Target(goArch);
        return Write(Errno, 1, new[] { target.Main }.Concat(target.Sub).ToList(), new List<string>(), null, null, DefaultRules, target.Native, capabilities);
    }

    /// <summary>
    /// A user's profile (Docker's form, with <c>archMap</c> and conditional rules, or the plain OCI form) resolved the same way.
    /// Throws <see cref="SeccompProfileException"/> naming the field at fault.
    /// </summary>
    public static SeccompFilter Resolve(JObject profile, string goArch, IReadOnlyCollection<string> capabilities)
    {
        var target = Target(goArch);
        Known(profile, "", "defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags", "listenerPath", "listenerMetadata", "syscalls");
        string defaultAction = OneOf(profile["defaultAction"], "defaultAction", Actions);
        if (defaultAction == "SCMP_ACT_NOTIFY")
        {
            // The runtime specification and runc both refuse it: the filter would hand every call of the app to a listener.
            throw new SeccompProfileException("The seccomp profile's \"defaultAction\" is SCMP_ACT_NOTIFY, which cannot be a default action; name the calls a listener handles in \"syscalls\" instead.");
        }

        uint? defaultErrnoRet = ErrnoRet(profile["defaultErrnoRet"], "defaultErrnoRet", defaultAction);
        List<string> architectures = StringList(profile["architectures"], "architectures").Select((a, i) => OneOf(a, $"architectures[{i}]", KnownArchitectures)).ToList();
        JArray archMap = Items(profile["archMap"], "archMap");
        if (architectures.Count > 0 && archMap.Count > 0)
        {
            throw new SeccompProfileException("The seccomp profile has both \"architectures\" and \"archMap\"; use one or the other.");
        }

        // moby takes the first archMap entry for the target; none (or no archMap) leaves the runtime's native one, the target's.
        var mapped = new List<string> { target.Main };
        bool found = false;
        for (int i = 0; i < archMap.Count; i++)
        {
            JObject entry = Object(archMap[i], $"archMap[{i}]");
            Known(entry, $"archMap[{i}].", "architecture", "subArchitectures");
            string main = OneOf(entry["architecture"], $"archMap[{i}].architecture", KnownArchitectures);
            List<string> sub = StringList(entry["subArchitectures"], $"archMap[{i}].subArchitectures").Select((a, j) => OneOf(a, $"archMap[{i}].subArchitectures[{j}]", KnownArchitectures)).ToList();
            if (main == target.Main && !found)
            {
                mapped.AddRange(sub);
                found = true;
            }
        }

        if (architectures.Count > 0 && !architectures.Contains(target.Main))
        {
            throw new SeccompProfileException($"The seccomp profile's \"architectures\" ({string.Join(", ", architectures)}) do not include {target.Main}, the target's ({goArch}): the filter would not apply to the app.");
        }

        List<string> flags = StringList(profile["flags"], "flags").Select((f, i) => OneOf(f, $"flags[{i}]", Flags)).ToList();
        string? listenerPath = OptionalString(profile["listenerPath"], "listenerPath");
        string? listenerMetadata = OptionalString(profile["listenerMetadata"], "listenerMetadata");
        JArray syscalls = Items(profile["syscalls"], "syscalls");
        Rule[] rules = syscalls.Select((s, i) => ParseRule(s, $"syscalls[{i}]")).ToArray();
        return Write(defaultAction, defaultErrnoRet, architectures.Count > 0 ? architectures : mapped, flags, listenerPath, listenerMetadata, rules, target.Native, capabilities);
    }

    private static SeccompTarget Target(string goArch) =>
        Targets.TryGetValue(goArch, out var target) ? target : throw new ArgumentException($"\"{goArch}\" is not a GOARCH the bundles support.", nameof(goArch));

    private static SeccompFilter Write(string defaultAction, uint? defaultErrnoRet, List<string> architectures, List<string> flags, string? listenerPath, string? listenerMetadata,
        IEnumerable<Rule> rules, string native, IReadOnlyCollection<string> caps)
    {
        var kept = rules.Where(r => !r.DroppedOnNewKernel && !r.NotArches.Contains(native) && !r.NotCaps.Any(caps.Contains)
                && (r.Arches.Length == 0 || r.Arches.Contains(native)) && r.Caps.All(caps.Contains))
            .Select(r => new SeccompSyscallRule(r.Names, r.Action, r.ErrnoRet, r.Args.Select(a => new SeccompArgument(a.Index, a.Value, a.ValueTwo, a.Op)).ToArray()))
            .ToArray();
        return new SeccompFilter(defaultAction, defaultErrnoRet, architectures.Distinct(StringComparer.Ordinal).ToArray(), flags.Distinct(StringComparer.Ordinal).ToArray(), listenerPath, listenerMetadata, kept);
    }

    private static Rule ParseRule(JToken token, string path)
    {
        JObject call = Object(token, path);
        Known(call, path + ".", "names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes");
        List<string> names = StringList(call["names"], path + ".names");
        if (OptionalString(call["name"], path + ".name") is { } name)
        {
            names = names.Count == 0 ? new List<string> { name } : throw new SeccompProfileException($"The seccomp profile's {path} has both \"name\" and \"names\"; use one or the other.");
        }

        if (names.Count == 0)
        {
            throw new SeccompProfileException($"The seccomp profile's {path} names no system call (\"names\" is missing or empty).");
        }

        for (int i = 0; i < names.Count; i++)
        {
            if (names[i].Length == 0 || !names[i].All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_'))
            {
                throw Bad(path + ".names[" + i + "]", names[i], "must be a system call name (lower-case letters, digits and _)");
            }
        }

        string action = OneOf(call["action"], path + ".action", Actions);
        OptionalString(call["comment"], path + ".comment");
        Arg[] args = Items(call["args"], path + ".args").Select((a, i) => ParseArg(a, $"{path}.args[{i}]")).ToArray();
        var (caps, arches, _) = ParseFilter(call["includes"], path + ".includes");
        var (notCaps, notArches, dropped) = ParseFilter(call["excludes"], path + ".excludes");
        return new Rule(names.ToArray(), action, ErrnoRet(call["errnoRet"], path + ".errnoRet", action), args, caps, arches, notCaps, notArches, dropped);
    }

    private static Arg ParseArg(JToken token, string path)
    {
        JObject arg = Object(token, path);
        Known(arg, path + ".", "index", "value", "valueTwo", "op");
        ulong index = Number(arg["index"], path + ".index", 5, "must be 0 to 5 (a system call has six arguments)");
        ulong value = Number(arg["value"], path + ".value", ulong.MaxValue, "must be an unsigned 64-bit integer");
        ulong valueTwo = arg["valueTwo"] is { Type: not JTokenType.Null } two ? Number(two, path + ".valueTwo", ulong.MaxValue, "must be an unsigned 64-bit integer") : 0;
        return new Arg((uint)index, value, valueTwo, OneOf(arg["op"], path + ".op", Operators));
    }

    /// <summary>caps, arches and whether minKernel is set (taken as met, see the remarks on the class).</summary>
    private static (string[] Caps, string[] Arches, bool MinKernel) ParseFilter(JToken? token, string path)
    {
        if (token is null || token.Type == JTokenType.Null)
        {
            return (Array.Empty<string>(), Array.Empty<string>(), false);
        }

        JObject filter = Object(token, path);
        Known(filter, path + ".", "caps", "arches", "minKernel");
        string? minKernel = OptionalString(filter["minKernel"], path + ".minKernel");
        string[] parts = minKernel?.Split('.') ?? Array.Empty<string>();
        if (minKernel is not null && minKernel.Length > 0 && (parts.Length != 2 || !parts.All(p => p.Length > 0 && p.All(char.IsAsciiDigit)) || parts.All(p => p.Trim('0').Length == 0)))
        {
            throw Bad(path + ".minKernel", minKernel, "must be a kernel version \"<kernel>.<major>\" such as \"4.8\"");
        }

        return (StringList(filter["caps"], path + ".caps").ToArray(), StringList(filter["arches"], path + ".arches").ToArray(), !string.IsNullOrEmpty(minKernel));
    }

    private static uint? ErrnoRet(JToken? token, string path, string action)
    {
        if (token is null || token.Type == JTokenType.Null)
        {
            return null;
        }

        uint value = (uint)Number(token, path, uint.MaxValue, "must be an unsigned 32-bit integer");
        return action is Errno or "SCMP_ACT_TRACE" ? value : throw Bad(path, token, $"is only for SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}");
    }

    private static void Known(JObject obj, string prefix, params string[] fields)
    {
        if (obj.Properties().FirstOrDefault(p => !fields.Contains(p.Name)) is { } unknown)
        {
            throw new SeccompProfileException($"The seccomp profile has an unknown field \"{prefix}{unknown.Name}\" (known there: {string.Join(", ", fields)}).");
        }
    }

    private static string OneOf(JToken? token, string path, string[] allowed) =>
        token is { Type: JTokenType.String } && allowed.Contains((string)token!) ? (string)token! : throw Bad(path, token, "must be one of " + string.Join(", ", allowed));

    private static string? OptionalString(JToken? token, string path) =>
        token is null || token.Type == JTokenType.Null ? null : token.Type == JTokenType.String ? (string)token! : throw Bad(path, token, "must be a string");

    private static List<string> StringList(JToken? token, string path) =>
        Items(token, path).Select((t, i) => t.Type == JTokenType.String ? (string)t! : throw Bad($"{path}[{i}]", t, "must be a string")).ToList();

    private static JArray Items(JToken? token, string path) =>
        token is null || token.Type == JTokenType.Null ? new JArray() : token as JArray ?? throw Bad(path, token, "must be an array");

    private static JObject Object(JToken token, string path) => token as JObject ?? throw Bad(path, token, "must be an object");

    private static ulong Number(JToken? token, string path, ulong max, string must) => token?.Type == JTokenType.Integer
        && (token is JValue { Value: BigInteger big } ? big : new BigInteger((long)token)) is var n && n >= 0 && n <= max ? (ulong)n : throw Bad(path, token, must);

    private static SeccompProfileException Bad(string path, JToken? value, string must) =>
        new($"The seccomp profile's {path} {(value is null ? "is missing" : $"is {value.ToString(Formatting.None)}")}: it {must}.");

    private static SeccompProfileException Bad(string path, string value, string must) => Bad(path, new JValue(value), must);

    private static Rule Of(string names, string action = Allow, uint? errnoRet = null, Arg? arg = null, string caps = "", string arches = "", string notCaps = "", string notArches = "") =>
        new(Split(names), action, errnoRet, arg is null ? Array.Empty<Arg>() : new[] { arg }, Split(caps), Split(arches), Split(notCaps), Split(notArches), false);

    private static string[] Split(string words) => words.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>One argument comparison of a rule.</summary>
    private sealed record Arg(uint Index, ulong Value, ulong ValueTwo, string Op);

    /// <summary>One syscalls entry before resolution: the conditions are Docker's includes (all must hold) and excludes (any drops it).</summary>
    private sealed record Rule(string[] Names, string Action, uint? ErrnoRet, Arg[] Args, string[] Caps, string[] Arches, string[] NotCaps, string[] NotArches, bool DroppedOnNewKernel);
}

/// <summary>A seccomp profile that is not valid; the message names the field and its value.</summary>
internal sealed class SeccompProfileException : Exception
{
    public SeccompProfileException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// A GOARCH's libseccomp names (a class, not a tuple: a framework dictionary of a value type is compiled on every publish).
/// </summary>
/// <param name="Native">What <c>includes.arches</c>/<c>excludes.arches</c> call it.</param>
/// <param name="Main">Its main architecture.</param>
/// <param name="Sub">Its sub-architectures in moby's default map.</param>
internal sealed record SeccompTarget(string Native, string Main, string[] Sub);
