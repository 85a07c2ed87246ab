using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Closure;
using OciBundle.Diagnostics;
using OciBundle.Elf;
using OciBundle.Rootfs;
using OciBundle.Testing;
using OciBundle.Model;
using OciBundle.Sysroots;

namespace OciBundle.Tests;

/// <summary>
/// Resolution against fixture sysroots built here from small libraries compiled with gcc: RPATH vs RUNPATH,
/// $ORIGIN, ld.so.conf, symlink chains and merged /usr, and a candidate of the wrong machine to skip.
/// </summary>
[TestClass]
public sealed class LibraryResolverTests
{
    private static readonly TargetArchitecture Amd64 = TargetArchitecture.Find("amd64", out _)!;

    private static TempDirectory NewSysroot()
    {
        TestEnvironment.Require(TestEnvironment.Which("gcc") is not null, "gcc builds the fixture libraries");
        var root = new TempDirectory("ocibundle-sysroot-");
        Directory.CreateDirectory(root.Combine("usr", "lib", "x86_64-linux-gnu"));
        Directory.CreateDirectory(root.Combine("etc"));
        File.CreateSymbolicLink(root.Combine("lib"), "usr/lib");
        // As on Debian: the interpreter's PT_INTERP path goes through two links to the real file.
        Directory.CreateDirectory(root.Combine("usr", "lib64"));
        File.CreateSymbolicLink(root.Combine("lib64"), "usr/lib64");
        File.CreateSymbolicLink(root.Combine("usr", "lib64", "ld-linux-x86-64.so.2"), "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        // The real libc and interpreter, so what the fixtures need resolves inside the sysroot.
        foreach (string name in new[] { "libc.so.6", "ld-linux-x86-64.so.2" })
        {
            File.Copy("/lib/x86_64-linux-gnu/" + name, root.Combine("usr", "lib", "x86_64-linux-gnu", name));
        }

        return root;
    }

    private static void Gcc(string output, string source, params string[] flags)
    {
        string src = output + ".c";
        File.WriteAllText(src, source);
        ProcessResult r = TestEnvironment.RunCapture("gcc", new[] { "-o", output, src }.Concat(flags).ToArray());
        Assert.AreEqual(0, r.ExitCode, r.All);
        File.Delete(src);
    }

    private static ClosureBuilder Closure(TempDirectory root, RootfsPlan plan)
    {
        var sysroot = new SysrootView(root.Path);
        return new ClosureBuilder(sysroot, Amd64, plan, LibraryResolver.ForSysroot(sysroot, Amd64, plan), _ => { });
    }

    [TestMethod]
    public void RunpathWithOriginFindsTheAppsOwnLibrary()
    {
        using TempDirectory root = NewSysroot();
        Directory.CreateDirectory(root.Combine("opt", "app", "lib"));
        Directory.CreateDirectory(root.Combine("opt", "app", "bin"));
        Gcc(root.Combine("opt", "app", "lib", "libfoo.so.1"), "int foo(void){return 1;}", "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1");
        Gcc(root.Combine("opt", "app", "bin", "main"), "int foo(void); int main(void){return foo();}",
            root.Combine("opt", "app", "lib", "libfoo.so.1"), "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib");
        Assert.AreEqual(1, ElfFile.Read(root.Combine("opt", "app", "bin", "main")).RunPath.Count);

        var plan = new RootfsPlan();
        ClosureBuilder closure = Closure(root, plan);
        closure.AddSysrootPath("/opt/app/bin/main", "test");
        closure.Complete();

        Assert.IsTrue(plan.TryGet("/opt/app/lib/libfoo.so.1", out RootfsEntry foo), "found through $ORIGIN/../lib");
        StringAssert.Contains(foo.Reason, "DT_NEEDED libfoo.so.1 of /opt/app/bin/main");
        Assert.IsTrue(plan.TryGet("/usr/lib/x86_64-linux-gnu/libc.so.6", out _));
        Assert.IsTrue(plan.TryGet("/lib", out RootfsEntry lib) && lib.Kind == RootfsEntryKind.Symlink && lib.LinkTarget == "usr/lib", "merged /usr kept as a symlink");
    }

    [TestMethod]
    public void RpathOfTheLoaderIsInheritedButRunpathIsNot()
    {
        using TempDirectory root = NewSysroot();
        Directory.CreateDirectory(root.Combine("opt", "dep"));
        Directory.CreateDirectory(root.Combine("opt", "mid"));
        Gcc(root.Combine("opt", "dep", "libbar.so.1"), "int bar(void){return 2;}", "-shared", "-fPIC", "-Wl,-soname,libbar.so.1");
        Gcc(root.Combine("opt", "mid", "libfoo.so.1"), "int bar(void); int foo(void){return bar();}", "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1",
            root.Combine("opt", "dep", "libbar.so.1"));
        // main finds libfoo in /opt/mid and names /opt/dep too; libfoo itself names no path for libbar.
        Gcc(root.Combine("opt", "main-rpath"), "int foo(void); int main(void){return foo();}", root.Combine("opt", "mid", "libfoo.so.1"),
            "-Wl,--disable-new-dtags,-rpath,/opt/mid:/opt/dep", "-Wl,--allow-shlib-undefined");
        Gcc(root.Combine("opt", "main-runpath"), "int foo(void); int main(void){return foo();}", root.Combine("opt", "mid", "libfoo.so.1"),
            "-Wl,--enable-new-dtags,-rpath,/opt/mid:/opt/dep", "-Wl,--allow-shlib-undefined");

        var plan = new RootfsPlan();
        ClosureBuilder closure = Closure(root, plan);
        closure.AddSysrootPath("/opt/main-rpath", "test");
        closure.Complete();
        Assert.IsTrue(plan.TryGet("/opt/dep/libbar.so.1", out _), "DT_RPATH of the executable serves its libraries' needs");

        var plan2 = new RootfsPlan();
        ClosureBuilder closure2 = Closure(root, plan2);
        closure2.AddSysrootPath("/opt/main-runpath", "test");
        var e = Assert.ThrowsExactly<OciBundleException>(() => closure2.Complete());
        Assert.AreEqual("OCIB2001", e.Code);
        StringAssert.Contains(e.Message, "libbar.so.1 (needed by /opt/mid/libfoo.so.1)");
    }

    [TestMethod]
    public void LdSoConfDirectoriesAreSearchedAndWrongMachineCandidatesSkipped()
    {
        using TempDirectory root = NewSysroot();
        Directory.CreateDirectory(root.Combine("opt", "conf"));
        File.WriteAllText(root.Combine("etc", "ld.so.conf"), "/opt/conf\n");
        Gcc(root.Combine("opt", "conf", "libqux.so.1"), "int qux(void){return 3;}", "-shared", "-fPIC", "-Wl,-soname,libqux.so.1");
        // An ARM library of the same name in a directory ld.so.conf lists first: ld.so skips it, and so must we.
        Directory.CreateDirectory(root.Combine("opt", "arm"));
        File.WriteAllBytes(root.Combine("opt", "arm", "libqux.so.1"), ElfFileTests.SyntheticElf32(true, ElfMachine.Arm, "/lib/ld-linux-armhf.so.3", Array.Empty<string>()));
        File.WriteAllText(root.Combine("etc", "ld.so.conf"), "/opt/arm\n/opt/conf\n");
        Gcc(root.Combine("opt", "main"), "int qux(void); int main(void){return qux();}", root.Combine("opt", "conf", "libqux.so.1"));

        var plan = new RootfsPlan();
        ClosureBuilder closure = Closure(root, plan);
        closure.AddSysrootPath("/opt/main", "test");
        closure.Complete();

        Assert.IsTrue(plan.TryGet("/opt/conf/libqux.so.1", out _), "found through ld.so.conf");
        Assert.IsFalse(plan.TryGet("/opt/arm/libqux.so.1", out _), "the ARM candidate was skipped");
    }

    [TestMethod]
    public void SymlinkChainsAreReproducedAndTheRealFileStoredOnce()
    {
        using TempDirectory root = NewSysroot();
        string dir = root.Combine("usr", "lib", "x86_64-linux-gnu");
        Gcc(Path.Combine(dir, "libfoo.so.1.2.3"), "int foo(void){return 1;}", "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1");
        File.CreateSymbolicLink(Path.Combine(dir, "libfoo.so.1"), "libfoo.so.1.2.3");
        Gcc(root.Combine("usr", "main"), "int foo(void); int main(void){return foo();}", Path.Combine(dir, "libfoo.so.1.2.3"));

        var plan = new RootfsPlan();
        ClosureBuilder closure = Closure(root, plan);
        closure.AddSysrootPath("/usr/main", "test");
        closure.Complete();

        Assert.IsTrue(plan.TryGet("/lib/x86_64-linux-gnu/libfoo.so.1", out _) == false, "nothing is stored behind the /lib symlink");
        Assert.IsTrue(plan.TryGet("/usr/lib/x86_64-linux-gnu/libfoo.so.1", out RootfsEntry link));
        Assert.AreEqual(RootfsEntryKind.Symlink, link.Kind);
        Assert.AreEqual("libfoo.so.1.2.3", link.LinkTarget);
        Assert.IsTrue(plan.TryGet("/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3", out RootfsEntry real));
        Assert.AreEqual(RootfsEntryKind.File, real.Kind);
        Assert.AreEqual(1, plan.Entries.Count(e => e.Kind == RootfsEntryKind.File && e.Path.Contains("libfoo")));
    }

    [TestMethod]
    public void SysrootFoldersAreCopiedWithoutFifosOrSockets()
    {
        using var root = new TempDirectory("ocibundle-sysroot-");
        Directory.CreateDirectory(root.Combine("usr", "share", "data"));
        File.WriteAllText(root.Combine("usr", "share", "data", "table.txt"), "x");
        Assert.AreEqual(0, TestEnvironment.RunCapture("mkfifo", root.Combine("usr", "share", "data", "pipe")).ExitCode);
        var plan = new RootfsPlan();

        Closure(root, plan).AddSysrootPath("/usr/share/data", "test");

        Assert.IsTrue(plan.TryGet("/usr/share/data/table.txt", out RootfsEntry table) && table.Size == 1);
        Assert.IsFalse(plan.TryGet("/usr/share/data/pipe", out _), "a fifo is not a file to copy (opening it would block)");
    }

    [TestMethod]
    public void ClosureOfHostBinariesMatchesLddtree()
    {
        string? lddtree = TestEnvironment.Which("lddtree");
        TestEnvironment.Require(lddtree is not null && File.Exists("/usr/bin/python3") && TestEnvironment.RunCapture("/usr/bin/python3", "-c", "import elftools").ExitCode == 0,
            "lddtree (Debian pax-utils) with python3-pyelftools");
        string[] binaries = { "/bin/ls", "/usr/bin/gpgv", "/lib/x86_64-linux-gnu/libicui18n.so.72" };
        foreach (string binary in binaries.Where(File.Exists))
        {
            var plan = new RootfsPlan();
            var sysroot = new SysrootView("/");
            var closure = new ClosureBuilder(sysroot, Amd64, plan, LibraryResolver.ForSysroot(sysroot, Amd64, plan), _ => { });
            closure.AddSysrootPath(binary, "test");
            closure.Complete();
            var ours = plan.Entries.Where(e => e.Kind == RootfsEntryKind.File).Select(e => e.Path).ToHashSet();

            ProcessResult r = TestEnvironment.RunCapture("/usr/bin/python3", lddtree!, "-l", binary);
            Assert.AreEqual(0, r.ExitCode, r.All);
            var theirs = r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(p => TestEnvironment.RunCapture("realpath", p.Trim()).Output.Trim()).ToHashSet();

            CollectionAssert.AreEquivalent(theirs.ToList(), ours.ToList(), $"closure of {binary}");
        }
    }
}
