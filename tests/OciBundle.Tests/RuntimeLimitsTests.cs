using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Diagnostics;
using OciBundle.Model;
using OciBundle.Planning;
using OciBundle.Request;
using OciBundle.Rootfs;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// Issue 24: every value runc or the kernel would refuse at run time is a coded error at publish, at and past each
/// limit (the end-to-end table runs the accepted ones with runc); nothing the bundle ships sits under a mount, or
/// where a non-root host user could replace it.
/// </summary>
[TestClass]
public sealed class RuntimeLimitsTests
{
    private static TempDirectory _dir = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _dir = new TempDirectory();
        Directory.CreateDirectory(_dir.Combine("publish"));
        File.WriteAllText(_dir.Combine("publish", "Hello"), "#!/bin/sh\n"); // an app host (not ELF: no closure needed)
        File.SetUnixFileMode(_dir.Combine("publish", "Hello"), (UnixFileMode)0b111_101_101);
        File.WriteAllText(_dir.Combine("publish", "data.txt"), "data\n");
        File.Copy("/usr/bin/true", _dir.Combine("publish", "Tool")); // an ELF program, found through PATH
        File.WriteAllText(_dir.Combine("publish", "NotAProgram"), "echo but no #! line\n");
        File.SetUnixFileMode(_dir.Combine("publish", "NotAProgram"), (UnixFileMode)0b111_101_101);
        Directory.CreateDirectory(_dir.Combine("config", "secrets"));
        File.WriteAllText(_dir.Combine("config", "app.json"), "{}\n");
        File.WriteAllText(_dir.Combine("config", "secrets", "token"), "t\n");
    }

    [ClassCleanup]
    public static void Cleanup() => _dir.Dispose();

    private static BundleOptions Options(Action<BundleOptions> change)
    {
        BundleOptions options = TargetDefaults.Options(_dir.Combine("publish"), _dir.Combine("bundle"), "Hello", "Hello");
        options.RuntimeIdentifier = "linux-x64";
        change(options);
        return options;
    }

    /// <summary>The codes of the parse and, when it passes, of the plan.</summary>
    private static List<string> Codes(Action<BundleOptions> change)
    {
        try
        {
            BundlePlanner.Plan(BundleRequest.Parse(Options(change)), _ => { });
            return new List<string>();
        }
        catch (BundleValidationException e)
        {
            return e.Errors.Select(x => x.Code).ToList();
        }
        catch (OciBundleException e)
        {
            return new List<string> { e.Code };
        }
    }

    private static void Mount(BundleOptions o, string spec)
    {
        string[] p = spec.Split('|');
        o.Mounts.Add(new MountOption { Destination = p[0], Type = p[1], Source = p[2], Options = p[3].Split(';').ToList() });
    }

    private static void Apply(BundleOptions o, string setting)
    {
        string kind = setting[..setting.IndexOf(':')];
        string value = setting[(kind.Length + 1)..].Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\t", "\t", StringComparison.Ordinal);
        switch (kind)
        {
            case "hostname": o.Hostname = value; break;
            case "user": o.User = value; break;
            case "hostuid": o.Rootless = true; o.User = "0"; o.HostUid = value; o.HostGid = "1000"; break;
            case "rlimit": o.Rlimits.Add(new RlimitOption { Type = value.Split('|')[0], Soft = value.Split('|')[1], Hard = value.Split('|')[2] }); break;
            case "tmpfs": Mount(o, "/data|tmpfs|tmpfs|" + value); break;
            case "mount": Mount(o, value); break;
            case "rootless-tmpfs": o.Rootless = true; o.User = "0"; o.HostUid = "1000"; o.HostGid = "1000"; Mount(o, "/data|tmpfs|tmpfs|" + value); break;
            case "cwd": o.WorkingDirectory = value; break;
            case "cwd-rw": o.ReadOnly = false; o.WorkingDirectory = value; break;
            case "file": o.Files.Add(new FileOption { Source = _dir.Combine(value.Split('|')[0]), TargetPath = value.Split('|')[1] }); break;
            case "file+mount": o.Files.Add(new FileOption { Source = _dir.Combine("config"), TargetPath = "/etc/myapp" }); Mount(o, value); break;
            case "args": o.Args = value.Split('|').ToList(); break;
            case "env-path": o.Environment.Add(new("PATH", value)); o.Args = new List<string> { "Tool" }; break;
            case "tool+mount": o.Args = new List<string> { "/app/Tool" }; Mount(o, value); break;
            case "user-args": o.User = value.Split('|')[0]; o.Args = value.Split('|').Skip(1).ToList(); break;
            default: throw new ArgumentException(kind);
        }
    }

    [TestMethod]
    [DataRow("", "hostname:" + "h234567890123456789012345678901." + "h2345678901234567890123456789012")]
    [DataRow("OCIB1050", "hostname:" + "h2345678901234567890123456789012345678901234567890123456789012345")]
    [DataRow("OCIB1050", "hostname:" + "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h")]
    [DataRow("", "user:2147483647:2147483647")]
    [DataRow("OCIB1043", "user:2147483648")]
    [DataRow("OCIB1043", "user:0:2147483648")]
    [DataRow("OCIB1043", "user:4294967296")]
    [DataRow("", "hostuid:2147483647")]
    [DataRow("OCIB1043", "hostuid:2147483648")]
    [DataRow("", "rlimit:NOFILE|64|1048576")]
    [DataRow("OCIB1191", "rlimit:NOFILE|1024|1048577")]
    [DataRow("OCIB1191", "rlimit:NOFILE|1024|18446744073709551614")]
    [DataRow("OCIB1506", "rlimit:NOFILE|63|1024")]
    [DataRow("OCIB1506", "rlimit:NOFILE|0|0")]
    [DataRow("OCIB1191", "rlimit:CORE|10|5")]
    [DataRow("", "rlimit:CORE|0|0")]
    [DataRow("", "rlimit:CPU|1|1")]
    [DataRow("OCIB1506", "rlimit:CPU|0|0")]
    [DataRow("OCIB1506", "rlimit:AS|1073741824|unlimited")]
    [DataRow("", "rlimit:AS|2147483648|unlimited")]
    [DataRow("OCIB1506", "rlimit:DATA|268435455|unlimited")]
    [DataRow("OCIB1506", "rlimit:STACK|262143|unlimited")]
    [DataRow("OCIB1506", "rlimit:FSIZE|67108863|unlimited")]
    [DataRow("OCIB1506", "rlimit:NPROC|63|63")]
    [DataRow("", "rlimit:NPROC|64|unlimited")]
    [DataRow("", "tmpfs:size=64m;nr_inodes=10k;mode=1777;uid=1654;gid=1654")]
    [DataRow("", "tmpfs:size=50%;nr_blocks=1G;huge=within_size;mpol=interleave;noswap;inode64;nosuid;rro;tmpcopyup")]
    [DataRow("OCIB1503", "tmpfs:size=abc")]
    [DataRow("OCIB1503", "tmpfs:size=1x")]
    [DataRow("OCIB1503", "tmpfs:size=-1")]
    [DataRow("OCIB1503", "tmpfs:size=%")]
    [DataRow("OCIB1503", "tmpfs:size=99999999999999999999")]
    [DataRow("OCIB1503", "tmpfs:nr_inodes=10%")]
    [DataRow("", "tmpfs:nr_inodes=18014398509481983")]
    [DataRow("OCIB1503", "tmpfs:nr_inodes=18014398509481984")]
    [DataRow("OCIB1503", "tmpfs:nr_inodes=16e")]
    [DataRow("", "tmpfs:nr_blocks=9223372036854775807")]
    [DataRow("OCIB1503", "tmpfs:nr_blocks=8e")]
    [DataRow("OCIB1503", "tmpfs:nr_blocks=18446744073709551615")]
    [DataRow("", "mount:/data|proc|proc|hidepid=invisible;subset=pid;nosuid")]
    [DataRow("OCIB1541", "mount:/data|proc|proc|bogus")]
    [DataRow("OCIB1541", "mount:/data|proc|proc|hidepid=9")]
    [DataRow("OCIB1541", "mount:/data|mqueue|mqueue|size=1m")]
    [DataRow("OCIB1541", "mount:/data|sysfs|sysfs|mode=755")]
    [DataRow("", "mount:/data|devpts|devpts|newinstance;ptmxmode=0666;mode=0620;nosuid")]
    [DataRow("OCIB1541", "mount:/data|devpts|devpts|bogus=1")]
    [DataRow("OCIB1541", "mount:/data|devpts|devpts|mode=99999")]
    [DataRow("OCIB1541", "mount:/data|cgroup2|cgroup2|bogus")]
    [DataRow("", "mount:/data|ramfs|ramfs|size=1m")]
    [DataRow("OCIB1541", "mount:/data|ramfs|ramfs|mode=999")]
    [DataRow("OCIB1541", "mount:/data|hugetlbfs|none|bogus")]
    [DataRow("OCIB1541", "mount:/data|devpts|devpts|max=99999999999")]
    [DataRow("OCIB1544", "mount:/data|overlay|overlay|")]
    [DataRow("OCIB1544", "mount:/data|overlay|overlay|upperdir=/srv/u;workdir=/srv/w")]
    [DataRow("", "mount:/data|overlay|overlay|lowerdir=/srv/a:/srv/b")]
    [DataRow("", "tmpfs:mode=7777")]
    [DataRow("OCIB1503", "tmpfs:mode=10000")]
    [DataRow("OCIB1503", "tmpfs:mode=99999")]
    [DataRow("OCIB1503", "tmpfs:mode=")]
    [DataRow("OCIB1503", "tmpfs:uid=2147483648")]
    [DataRow("OCIB1503", "tmpfs:gid=-1")]
    [DataRow("OCIB1503", "tmpfs:huge=sometimes")]
    [DataRow("OCIB1503", "tmpfs:mpol=bind:1")]
    [DataRow("OCIB1503", "tmpfs:defaults")]
    [DataRow("OCIB1503", "tmpfs:quota")]
    [DataRow("OCIB1504", "tmpfs:size=1m,mode=99")]
    [DataRow("OCIB1504", "tmpfs:remount")]
    [DataRow("OCIB1504", "tmpfs:size=1m\\x")]
    [DataRow("OCIB1504", "mount:/data|tmpfss|tmpfs|")]
    [DataRow("OCIB1504", "mount:/data|tmp fs|tmpfs|")]
    [DataRow("OCIB1504", "mount:/da\\nta|tmpfs|tmpfs|")]
    [DataRow("OCIB1504", "mount:/data|bind|/srv/da\\tta|rbind")]
    [DataRow("OCIB1504", "mount:/data|bind|/srv|rbind;ro\\x")]
    [DataRow("", "mount:/data|bind|/srv|rbind;ro;foo=bar")]
    [DataRow("", "mount:/data|fuse.sshfs|host:/x|")]
    [DataRow("", "rootless-tmpfs:uid=0;gid=0")]
    [DataRow("OCIB1505", "rootless-tmpfs:uid=1654")]
    [DataRow("OCIB1505", "rootless-tmpfs:gid=5")]
    public void EachValueIsCheckedAtAndPastItsLimit(string code, string setting)
    {
        List<string> codes = Codes(o => Apply(o, setting.Replace("\\x", "\x01", StringComparison.Ordinal)));
        CollectionAssert.AreEqual(code.Length == 0 ? Array.Empty<string>() : new[] { code }, codes, $"{setting} gave {string.Join(", ", codes)}");
    }

    [TestMethod]
    public void NameAndPathLengthsAreThoseOfTheKernel()
    {
        List<string> codes = Codes(o => Mount(o, "/" + new string('a', 255) + "|tmpfs|tmpfs|"));
        CollectionAssert.AreEqual(Array.Empty<string>(), codes, string.Join(", ", codes));
        CollectionAssert.AreEqual(new[] { "OCIB1504" }, Codes(o => Mount(o, "/" + new string('a', 256) + "|tmpfs|tmpfs|")));
        string deep = string.Concat(Enumerable.Repeat("/" + new string('a', 200), 21)); // 4221 bytes
        CollectionAssert.AreEqual(new[] { "OCIB1504" }, Codes(o => Mount(o, deep + "|tmpfs|tmpfs|")));
    }

    [TestMethod]
    [DataRow("OCIB1501", "cwd:/home/app")]
    [DataRow("OCIB1501", "cwd:/home/app/srv")]
    [DataRow("OCIB1501", "file:config/app.json|/home/app/app.json")]
    [DataRow("OCIB1501", "args:/home/app/tool|--x")]
    [DataRow("OCIB1501", "mount:/home/app/.aspnet|tmpfs|tmpfs|")]
    [DataRow("", "mount:/home/app|tmpfs|tmpfs|uid=1654;gid=1654;mode=0700")]
    [DataRow("", "cwd:/home/other")]
    public void NothingOfTheBundleGoesUnderTheAppUsersHome(string code, string setting)
    {
        List<string> codes = Codes(o => Apply(o, setting));
        CollectionAssert.AreEqual(code.Length == 0 ? Array.Empty<string>() : new[] { code }, codes, $"{setting} gave {string.Join(", ", codes)}");
    }

    [TestMethod]
    [DataRow("OCIB1500", "cwd:/tmp/app")]
    [DataRow("", "cwd-rw:/tmp/app")]
    [DataRow("OCIB1071", "cwd:/dev/shm/app")]
    [DataRow("OCIB1500", "file:config/app.json|/tmp/app.json")]
    [DataRow("OCIB1500", "file:config/app.json|/sys/fs/cgroup/x")]
    [DataRow("OCIB1500", "file:config/app.json|/dev/app.json")]
    [DataRow("OCIB1500", "args:/tmp/tool")]
    [DataRow("OCIB1500", "args:/bin/sh|/proc/self/status")]
    [DataRow("OCIB1500", "file+mount:/etc/myapp/secrets|tmpfs|tmpfs|")]
    [DataRow("", "file+mount:/etc/myapp/cache|tmpfs|tmpfs|")]
    [DataRow("OCIB1500", "file+mount:/etc|bind|/srv/etc|rbind;ro")]
    [DataRow("OCIB1024", "mount:/app|tmpfs|tmpfs|")]
    [DataRow("OCIB1024", "mount:/|tmpfs|tmpfs|")]
    [DataRow("", "mount:/etc/ssl/certs|bind|/etc/ssl/certs|rbind;ro")]
    [DataRow("OCIB1024", "mount:/sys/foo|tmpfs|tmpfs|")]
    [DataRow("", "mount:/sys/fs/cgroup/x|tmpfs|tmpfs|")]
    [DataRow("OCIB1542", "mount:/etc/passwd|tmpfs|tmpfs|")]
    [DataRow("OCIB1542", "mount:/etc/hosts|bind|/tmp|rbind")]
    [DataRow("OCIB1542", "mount:/etc|bind|/etc/passwd|rbind;ro")]
    [DataRow("", "mount:/etc/hosts|bind|/etc/passwd|rbind;ro")]
    [DataRow("OCIB1543", "tool+mount:/usr|tmpfs|tmpfs|")]
    [DataRow("OCIB1543", "tool+mount:/lib64|tmpfs|tmpfs|")]
    [DataRow("", "tool+mount:/usr/share|tmpfs|tmpfs|")]
    [DataRow("OCIB1545", "tool+mount:/usr|bind|/usr|rbind;ro")]
    [DataRow("OCIB1545", "tool+mount:/lib64|bind|/tmp|rbind")]
    [DataRow("", "tool+mount:/usr/share|bind|/usr/share|rbind;ro")]
    public void WhatTheBundleShipsIsNeverUnderAMount(string code, string setting)
    {
        List<string> codes = Codes(o => Apply(o, setting));
        CollectionAssert.AreEqual(code.Length == 0 ? Array.Empty<string>() : new[] { code }, codes, $"{setting} gave {string.Join(", ", codes)}");
    }

    [TestMethod]
    [DataRow("OCIB1507", "args:|/app/Hello")]
    [DataRow("OCIB1507", "args:nosuch")]
    [DataRow("OCIB1507", "args:Hello")]
    [DataRow("OCIB1507", "args:/app/data.txt")]
    [DataRow("OCIB1507", "args:/app")]
    [DataRow("OCIB1507", "args:/app/NotAProgram")]
    [DataRow("", "args:/app/Tool")]
    [DataRow("OCIB1507", "args:/app/Tool/")]
    [DataRow("OCIB1507", "args:/app/Tool/.")]
    [DataRow("OCIB1507", "args:/app/Tool/../Tool")]
    [DataRow("", "args:/app/../app/Tool")]
    [DataRow("", "args:/app//Tool")]
    [DataRow("", "env-path:/usr/bin:/app")]
    [DataRow("OCIB1507", "env-path:/usr/bin")]
    [DataRow("OCIB1507", "env-path:app")]
    [DataRow("", "user-args:0|/app/Hello")]
    public void TheProgramIsOneRuncCanStart(string code, string setting)
    {
        List<string> codes = Codes(o => Apply(o, setting));
        CollectionAssert.AreEqual(code.Length == 0 ? Array.Empty<string>() : new[] { code }, codes, $"{setting} gave {string.Join(", ", codes)}");
    }

    [TestMethod]
    public void AProgramOnlyItsOwnerMayRunIsRefusedForTheAppUserAndAScriptGetsItsInterpreter()
    {
        // The build machine's modes do not count (a script with an execute bit is 0755 in the bundle); a Mode the item
        // gives does, and 0744 lets only root run it.
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("publish"));
        File.WriteAllText(dir.Combine("publish", "Hello"), "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(dir.Combine("publish", "Hello"), (UnixFileMode)0b111_100_100);
        File.WriteAllText(dir.Combine("run.sh"), "#!/bin/sh\necho hi\n");
        BundleOptions options = TargetDefaults.Options(dir.Combine("publish"), dir.Combine("bundle"), "Hello", "Hello");
        options.Files = new List<FileOption> { new() { Source = dir.Combine("run.sh"), TargetPath = "/opt/tool/run.sh", Mode = "0744" } };
        BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }); // the app host: 0755 whatever its source's bits
        options.Args = new List<string> { "/opt/tool/run.sh" };
        var e = Assert.ThrowsExactly<OciBundleException>(() => BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }));
        Assert.AreEqual("OCIB1507", e.Code);
        StringAssert.Contains(e.Message, "may not be executed by uid 1654 (mode 0744)");

        // Root may (it owns the file); a script named by OciBundleArg brings its interpreter, /bin/sh of the sysroot.
        options.User = "0";
        BundleLayout layout = BundlePlanner.Plan(BundleRequest.Parse(options), _ => { });
        Assert.IsTrue(layout.Plan.TryGet("/bin/sh", out _) || layout.Plan.TryGet("/usr/bin/sh", out _), "the interpreter is in the bundle");
    }

    [TestMethod]
    public void APlannedPathUnderAFolderANonRootUserOwnsOrOthersMayWriteIsRefused()
    {
        var plan = new RootfsPlan();
        plan.AddDirectory("/home/app", "home", owner: 1654);
        ReplaceableFolders.Check(plan); // the folder itself is fine
        plan.AddContent("/home/app/app.dll", new byte[] { 1 }, (UnixFileMode)0b110_100_100, "test");
        var e = Assert.ThrowsExactly<OciBundleException>(() => ReplaceableFolders.Check(plan));
        Assert.AreEqual("OCIB1502", e.Code);
        StringAssert.Contains(e.Message, "which belongs to uid 1654");

        var sticky = new RootfsPlan();
        sticky.AddDirectory("/tmp", "tmp", (UnixFileMode)0b1_111_111_111);
        sticky.AddContent("/tmp/x", new byte[] { 1 }, (UnixFileMode)0b110_100_100, "test");
        ReplaceableFolders.Check(sticky); // sticky: nobody renames another's entry
    }

    [TestMethod]
    public void TheAppUsersHomeIsUid1654sOnTheHostOnlyWhenTheRootIsWritable()
    {
        TestEnvironment.Require(TestEnvironment.IsRoot, "root (to give a folder to uid 1654)");
        using var f = new SafetyTests.Fixture();
        string home = Path.Combine(f.Bundle, "rootfs", "home", "app");
        f.Publish();
        Assert.AreEqual(0u, Interop.NativeMethods.LStat(home)!.Value.Uid, "read-only root: the app writes nothing there, so no host account with uid 1654 may either");
        f.Publish(t => t.ReadOnly = false);
        Assert.AreEqual(1654u, Interop.NativeMethods.LStat(home)!.Value.Uid, "writable root: the app's own home");
        Assert.AreEqual(0, Directory.EnumerateFileSystemEntries(home).Count(), "and nothing of the bundle in it");
    }

    [TestMethod]
    public void AMountPointInsideAnEarlierMountIsLeftToTheRuntime()
    {
        BundleOptions options = Options(o =>
        {
            Mount(o, "/data|tmpfs|tmpfs|uid=1000;mode=0700");
            Mount(o, "/data/sub|tmpfs|tmpfs|");
            Mount(o, "/tmp/cache|tmpfs|tmpfs|");
        });
        RootfsPlan plan = BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }).Plan;
        Assert.IsTrue(plan.TryGet("/data", out RootfsEntry data) && data.OwnerId == 1000);
        Assert.IsFalse(plan.TryGet("/data/sub", out _), "runc makes it inside the tmpfs at /data; rootfs's would be hidden");
        Assert.IsFalse(plan.TryGet("/tmp/cache", out _), "inside the bundle's own /tmp tmpfs");
    }

    [TestMethod]
    [DataRow("", "262144", 1, 100000)]
    [DataRow("OCIB1540", "262144", 2, 100000)]
    [DataRow("OCIB1540", "4194304", 11, 100000)]
    [DataRow("", "8388608", 11, 100000)]
    [DataRow("", "unlimited", 40, 100000)]
    [DataRow("OCIB1540", "unlimited", 70, 100000)]
    public void ArgsAndEnvironmentFitTheStackLimitTheProcessExecsWith(string code, string stackSoft, int values, int bytes)
    {
        // execve takes a quarter of RLIMIT_STACK (at least 128 KiB, at most 6 MiB); runc sets the limit before it execs.
        List<string> codes = Codes(o =>
        {
            o.Rlimits.Add(new RlimitOption { Type = "RLIMIT_STACK", Soft = stackSoft, Hard = "unlimited" });
            for (int i = 0; i < values; i++)
            {
                o.Environment.Add(new("BIG" + i, new string('x', bytes)));
            }
        });
        CollectionAssert.AreEqual(code.Length == 0 ? Array.Empty<string>() : new[] { code }, codes, $"{values} x {bytes} bytes under a stack of {stackSoft} gave {string.Join(", ", codes)}");
    }
}
