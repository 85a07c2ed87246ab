using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Closure;
using OciBundle.Diagnostics;
using OciBundle.Model;
using OciBundle.Request;
using OciBundle.Rootfs;
using OciBundle.State;
using OciBundle.Sysroots;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// Issue 24, items 4 and 7: a sysroot folder gives only files every user of the build machine may read (the rule
/// OciBundleArg follows), judged on the inode the copy opens; a sparse entry of a sysroot archive is OCIB1315.
/// </summary>
[TestClass]
public sealed class SysrootHostFileRuleTests
{
    private static readonly UnixFileMode Private640 = (UnixFileMode)0b110_100_000;

    private static string Rootfs(SafetyTests.Fixture f, string path) => Path.Combine(f.Bundle, "rootfs") + path;

    /// <summary>A CA bundle in the fixture sysroot (with the OpenSSL shim in the app, so the .NET rules take it).</summary>
    private static string WithCaBundle(SafetyTests.Fixture f, string text = "-----BEGIN CERTIFICATE-----\nroot\n")
    {
        string certs = Path.Combine(f.Sysroot, "etc", "ssl", "certs");
        Directory.CreateDirectory(certs);
        string crt = Path.Combine(certs, "ca-certificates.crt");
        File.WriteAllText(crt, text);
        return crt;
    }

    [TestMethod]
    public void AHardLinkNamedLikeTheCaBundleToARootOnlyFileIsLeftOutWithAWarning()
    {
        using var f = new SafetyTests.Fixture();
        string secret = Path.Combine(f.Root, "secret.key");
        File.WriteAllText(secret, "PRIVATE KEY of the build machine\n");
        File.SetUnixFileMode(secret, Private640);
        Directory.CreateDirectory(Path.Combine(f.Sysroot, "usr", "share", "zoneinfo"));
        string zone = Path.Combine(f.Sysroot, "usr", "share", "zoneinfo", "UTC");
        File.WriteAllText(zone, "TZif2");
        Assert.AreEqual(0, Interop.NativeMethods.link(secret, Path.Combine(f.Sysroot, "usr", "share", "zoneinfo", "Secret")), "hard link");

        f.Publish(t => t.IncludeTimeZoneData = true);
        Assert.AreEqual("TZif2", File.ReadAllText(Rootfs(f, "/usr/share/zoneinfo/UTC")), "the readable zone is taken");
        Assert.IsFalse(File.Exists(Rootfs(f, "/usr/share/zoneinfo/Secret")), "the hard link to a 0640 file is not copied");
        Assert.IsFalse(Directory.EnumerateFiles(Path.Combine(f.Bundle, "rootfs"), "*", SearchOption.AllDirectories).Any(p => new FileInfo(p).Length < 4096 && File.ReadAllText(p).Contains("PRIVATE KEY", StringComparison.Ordinal)), "the key's bytes are nowhere in rootfs");
        string warning = f.Engine.Warnings.Single(w => w.Code == "OCIB1319").Message!;
        StringAssert.Contains(warning, "/usr/share/zoneinfo/Secret");
        StringAssert.Contains(warning, "0640");
    }

    [TestMethod]
    public void ANeededLibraryNotEveryoneMayReadIsACodedErrorAndNothingIsWritten()
    {
        using var f = new SafetyTests.Fixture();
        string libc = Path.Combine(f.Sysroot, "usr", "lib", "x86_64-linux-gnu", "libc.so.6");
        File.SetUnixFileMode(libc, Private640);
        Assert.IsTrue(f.Fail().Contains("OCIB1318"), string.Join("\n", f.Engine.Errors.Select(e => e.Message)));
        StringAssert.Contains(f.Engine.Errors.First(e => e.Code == "OCIB1318").Message, "libc.so.6");
        Assert.IsFalse(Directory.Exists(f.Bundle), "nothing written");

        // A folder on the way that others may not search hides it just the same (0644 in a 0700 folder).
        File.SetUnixFileMode(libc, (UnixFileMode)0b110_100_100);
        File.SetUnixFileMode(Path.GetDirectoryName(libc)!, (UnixFileMode)0b111_000_000);
        Assert.IsTrue(f.Fail().Contains("OCIB1318"));
        StringAssert.Contains(f.Engine.Errors.First(e => e.Code == "OCIB1318").Message, "mode 0700");
        File.SetUnixFileMode(Path.GetDirectoryName(libc)!, (UnixFileMode)0b111_101_101);
        f.Publish();
    }

    [TestMethod]
    public void AFileMadePrivateAfterPlanningIsRefusedByTheCopyOnTheInodeItOpened()
    {
        using var f = new SafetyTests.Fixture();
        string libc = Path.Combine(f.Sysroot, "usr", "lib", "x86_64-linux-gnu", "libc.so.6");
        var plan = new RootfsPlan();
        Interop.NativeMethods.Statx st = Interop.NativeMethods.LStat(libc)!.Value;
        RootfsEntry entry = plan.AddFile("/lib/libc.so.6", libc, (UnixFileMode)0b111_101_101, (long)st.Size, "test", st.Inode, publicSource: true);
        File.SetUnixFileMode(libc, Private640);
        var e = Assert.ThrowsExactly<IOException>(() => FileCopier.OpenSource(entry.SourcePath!, entry.SourceInode, entry.PublicSource));
        StringAssert.Contains(e.Message, "no longer readable by every user");
        int fd = FileCopier.OpenSource(entry.SourcePath!, entry.SourceInode, mustBePublic: false);
        Interop.NativeMethods.Close(fd);
    }

    [TestMethod]
    public void WhatIsReadToBeWrittenIntoTheBundleFollowsTheRuleToo()
    {
        using var f = new SafetyTests.Fixture();
        string dpkg = Path.Combine(f.Sysroot, "var", "lib", "dpkg");
        Directory.CreateDirectory(Path.Combine(dpkg, "info"));
        string status = Path.Combine(dpkg, "status");
        File.WriteAllText(status, "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u14\nDescription: a private note of the build machine\n");
        File.WriteAllText(Path.Combine(dpkg, "info", "libc6:amd64.list"), "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n");
        Directory.CreateDirectory(Path.Combine(f.Sysroot, "etc"));
        File.WriteAllText(Path.Combine(f.Sysroot, "etc", "os-release"), "ID=debian\nVERSION_ID=\"12\"\n");

        f.Publish();
        Assert.IsTrue(File.Exists(Rootfs(f, "/var/lib/dpkg/status.d/libc6")), "readable by everyone: its stanza is written");

        // Made private: the status file is not read (no stanza of it written), the os-release not copied, with a warning.
        File.SetUnixFileMode(status, Private640);
        File.SetUnixFileMode(Path.Combine(f.Sysroot, "etc", "os-release"), Private640);
        f.Publish();
        Assert.IsFalse(Directory.Exists(Rootfs(f, "/var/lib/dpkg")), "no stanza of a file not everyone may read");
        Assert.IsFalse(File.Exists(Rootfs(f, "/etc/os-release")));
        StringAssert.Contains(f.Engine.Warnings.Single(w => w.Code == "OCIB1319").Message, "/etc/os-release");
        Assert.IsFalse(File.ReadAllText(Path.Combine(f.Bundle, "sbom.spdx.json")).Contains("\"debian\"", StringComparison.Ordinal), "nor read for the SBOM");
    }

    [TestMethod]
    public void AnArchiveSysrootKeepsItsOwnModesForItsFilesAreNotTheBuildMachines()
    {
        var sysroot = new SysrootView("/tmp") { PublicFilesOnly = false };
        Assert.IsFalse(sysroot.PublicFilesOnly, "the cache of an unpacked archive: its files came from the archive, not from the build machine");
        Assert.IsNull(HostFileAccess.Problem("/etc/hostname", "/", Interop.NativeMethods.LStat("/etc/hostname")!.Value));
        Assert.AreEqual("0640", HostFileAccess.Problem("/etc/shadow", "/", new Interop.NativeMethods.Statx { Mode = 0x8000 | 0b110_100_000 }));
    }

    [TestMethod]
    [DataRow("gnu")]
    [DataRow("posix")]
    public void ASparseEntryIsOcib1315AsDocumentedNotRawDotnetText(string format)
    {
        TestEnvironment.Require(TestEnvironment.Which("tar") is not null, "GNU tar (makes the sparse archive)");
        using var dir = new TempDirectory("ocibundle-sparse-");
        string root = dir.Combine("root");
        Directory.CreateDirectory(root);
        using (FileStream s = File.Create(Path.Combine(root, "holes")))
        {
            s.SetLength(1 << 20);
            s.Position = 500_000;
            s.Write("data"u8);
        }

        string tar = dir.Combine("sparse.tar");
        ProcessResult made = TestEnvironment.RunCapture("tar", $"--format={format}", "--sparse", "-C", root, "-cf", tar, ".");
        Assert.AreEqual(0, made.ExitCode, made.All);
        Assert.IsTrue(new FileInfo(tar).Length < 100_000, "tar stored the file sparse");

        var errors = new ParseErrors();
        SysrootSpec spec = SysrootSpec.Parse(tar, null, dir.Combine("cache"), dir.Path, errors);
        Assert.AreEqual(0, errors.All.Count);
        var e = Assert.ThrowsExactly<OciBundleException>(() => SysrootStore.Materialize(spec, TargetArchitecture.Find("amd64", out _)!, new InputLedger(), _ => { }));
        Assert.AreEqual("OCIB1315", e.Code, e.Message);
        StringAssert.Contains(e.Message, "sparse");
        Assert.IsFalse(e.Message.Contains("not supported..", StringComparison.Ordinal), e.Message);
    }
}
