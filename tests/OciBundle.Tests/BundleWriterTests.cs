using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Diagnostics;
using OciBundle.Rootfs;
using OciBundle.State;
using OciBundle.Testing;
using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Outputs;

namespace OciBundle.Tests;

/// <summary>The writer's guarantees on small trees: reproducible, atomic on failure, safe inputs, reuse of unchanged files.</summary>
[TestClass]
public sealed class BundleWriterTests
{
    private static RootfsPlan SamplePlan(string sourceDir)
    {
        Directory.CreateDirectory(sourceDir);
        File.WriteAllText(Path.Combine(sourceDir, "app"), "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(Path.Combine(sourceDir, "app"), (UnixFileMode)0b111_101_101 | UnixFileMode.SetUser);
        File.WriteAllText(Path.Combine(sourceDir, "data.txt"), "data");
        var plan = new RootfsPlan();
        HostTree.Add(plan, sourceDir, "/app", "publish output");
        plan.AddContent("/etc/passwd", "root:x:0:0::/root:/sbin/nologin\n"u8.ToArray(), (UnixFileMode)0b110_100_100, "accounts");
        plan.AddSymlink("/bin", "app", "link");
        plan.AddDirectory("/tmp", "tmp", (UnixFileMode)0b1_111_111_111);
        return plan;
    }

    private static Dictionary<string, byte[]> Top(string config = "{}\n") => new() { ["config.json"] = System.Text.Encoding.UTF8.GetBytes(config) };

    private static string TreeFingerprint(string root) => Testing.TreeFingerprint.Of(root);

    [TestMethod]
    public void TwoWritesOfTheSamePlanGiveIdenticalTreesWithFixedTimesAndNoSetuid()
    {
        using var dir = new TempDirectory();
        RootfsPlan plan = SamplePlan(dir.Combine("src"));
        new BundleWriter(dir.Combine("a", "bundle"), TargetDefaults.Epoch).Write(plan, Top());
        new BundleWriter(dir.Combine("b", "bundle"), TargetDefaults.Epoch).Write(plan, Top());

        string a = TreeFingerprint(dir.Combine("a", "bundle"));
        Assert.AreEqual(a, TreeFingerprint(dir.Combine("b", "bundle")));
        Assert.AreEqual(TargetDefaults.Epoch, new DateTimeOffset(File.GetLastWriteTimeUtc(dir.Combine("a", "bundle", "rootfs", "app", "app"))).ToUnixTimeSeconds());
        Assert.AreEqual((UnixFileMode)0b111_101_101, File.GetUnixFileMode(dir.Combine("a", "bundle", "rootfs", "app", "app")), "setuid stripped, exec kept");
        Assert.AreEqual((UnixFileMode)0b1_111_111_111, File.GetUnixFileMode(dir.Combine("a", "bundle", "rootfs", "tmp")));
    }

    [TestMethod]
    public void SourceDateEpochSetsEveryTimestamp()
    {
        using var dir = new TempDirectory();
        new BundleWriter(dir.Combine("bundle"), 1700000000).Write(SamplePlan(dir.Combine("src")), Top());
        foreach (string path in Directory.EnumerateFileSystemEntries(dir.Combine("bundle"), "*", SearchOption.AllDirectories).Where(p => new FileInfo(p).LinkTarget is null))
        {
            Assert.AreEqual(1700000000, new DateTimeOffset(File.GetLastWriteTimeUtc(path)).ToUnixTimeSeconds(), path);
        }
    }

    [TestMethod]
    public void AFailedWriteKeepsThePreviousBundleAndLeavesNoStagingFolder()
    {
        using var dir = new TempDirectory();
        string bundle = dir.Combine("out", "bundle");
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top("{\"v\":1}\n"));
        string before = TreeFingerprint(bundle);

        var plan = SamplePlan(dir.Combine("src2"));
        plan.AddFile("/app/vanished", dir.Combine("src2", "does-not-exist"), (UnixFileMode)420, 1, "test");
        var e = Assert.ThrowsExactly<OciBundleException>(() => new BundleWriter(bundle, TargetDefaults.Epoch).Write(plan, Top("{\"v\":2}\n")));

        Assert.AreEqual("OCIB3003", e.Code);
        Assert.AreEqual(before, TreeFingerprint(bundle));
        CollectionAssert.AreEqual(new[] { "bundle" }, Directory.GetFileSystemEntries(dir.Combine("out")).Select(Path.GetFileName).Where(n => !n!.EndsWith(".lock")).ToArray());
    }

    [TestMethod]
    public void AnUnwritableDestinationGivesACodedErrorKeepsThePreviousBundleAndLeavesNoTemporaryFolder()
    {
        // Root ignores permission bits; an immutable folder (chattr +i) stops even root, as a read-only mount would.
        TestEnvironment.Require(TestEnvironment.IsRoot && TestEnvironment.Which("chattr") is not null, "root and chattr (e2fsprogs)");
        using var dir = new TempDirectory();
        string parent = dir.Combine("out");
        string bundle = Path.Combine(parent, "bundle");
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top("{\"v\":1}\n"));
        string before = TreeFingerprint(bundle);
        ProcessResult immutable = TestEnvironment.RunCapture("chattr", "+i", parent);
        TestEnvironment.Require(immutable.ExitCode == 0, "a file system with immutable folders: " + immutable.All);
        try
        {
            var e = Assert.ThrowsExactly<OciBundleException>(() => new BundleWriter(bundle, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top("{\"v\":2}\n")));
            Assert.AreEqual("OCIB3003", e.Code);
            StringAssert.Contains(e.Message, "The previous bundle is untouched");
        }
        finally
        {
            TestEnvironment.RunCapture("chattr", "-i", parent);
        }

        Assert.AreEqual(before, TreeFingerprint(bundle));
        CollectionAssert.AreEquivalent(new[] { "bundle", ".bundle.lock" }, Directory.GetFileSystemEntries(parent).Select(Path.GetFileName).ToArray());
    }

    [TestMethod]
    public void LeftoversOfAKilledPublishAreRemovedByTheNextOne()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("out", ".bundle.tmp-999-0123456789abcdef0123456789abcdef", "rootfs"));
        Directory.CreateDirectory(dir.Combine("out", ".bundle.old-999-0123456789abcdef0123456789abcdef"));
        Directory.CreateDirectory(dir.Combine("out", ".bundle.tmp-mine")); // not a name this product makes: kept
        new BundleWriter(dir.Combine("out", "bundle"), TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top());
        CollectionAssert.AreEquivalent(new[] { "bundle", ".bundle.lock", ".bundle.tmp-mine" }, Directory.GetFileSystemEntries(dir.Combine("out")).Select(Path.GetFileName).ToArray());
    }

    /// <summary>What the engine records after a write: the plan's inputs and the bundle as written.</summary>
    private static BuildState Recorded(string bundle, RootfsPlan plan) => BuildState.Record("key", plan, new InputLedger(), bundle);

    [TestMethod]
    public void UnchangedFilesAreReusedNotCopiedAndChangedOnesAreCopied()
    {
        using var dir = new TempDirectory();
        string bundle = dir.Combine("bundle");
        RootfsPlan plan = SamplePlan(dir.Combine("src"));
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(plan, Top());
        BuildState state = Recorded(bundle, plan);
        long inodeData = Inode(Path.Combine(bundle, "rootfs", "app", "data.txt"));

        File.WriteAllText(dir.Combine("src", "app"), "#!/bin/sh\necho changed\n");
        var writer = new BundleWriter(bundle, TargetDefaults.Epoch, state);
        writer.Write(SamplePlan2(dir.Combine("src")), Top());

        Assert.AreEqual(inodeData, Inode(Path.Combine(bundle, "rootfs", "app", "data.txt")), "unchanged file kept its inode");
        Assert.AreEqual("#!/bin/sh\necho changed\n", File.ReadAllText(Path.Combine(bundle, "rootfs", "app", "app")));
        Assert.AreEqual(1, writer.Statistics.FilesLinked);
    }

    [TestMethod]
    public void UnchangedSymlinksAreLinkedNotMadeAgainAndANewTargetIsMadeAnew()
    {
        using var dir = new TempDirectory();
        string bundle = dir.Combine("bundle");
        string link = Path.Combine(bundle, "rootfs", "bin");
        RootfsPlan plan = SamplePlan(dir.Combine("src"));
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(plan, Top());
        long first = Inode(link);

        new BundleWriter(bundle, TargetDefaults.Epoch, Recorded(bundle, plan)).Write(SamplePlan(dir.Combine("src")), Top());
        Assert.AreEqual(first, Inode(link), "the same symlink, linked into the new bundle: no new inode");
        Assert.AreEqual("app", new FileInfo(link).LinkTarget);
        Assert.AreEqual(TargetDefaults.Epoch, new DateTimeOffset(File.GetLastWriteTimeUtc(link)).ToUnixTimeSeconds());

        RootfsPlan moved = SamplePlan(dir.Combine("src"));
        moved.Remove("/bin");
        moved.AddSymlink("/bin", "app/app", "link");
        new BundleWriter(bundle, TargetDefaults.Epoch, Recorded(bundle, plan)).Write(moved, Top());
        Assert.AreEqual("app/app", new FileInfo(link).LinkTarget, "a link the plan points elsewhere is made anew");
        Assert.AreNotEqual(first, Inode(link));
    }

    [TestMethod]
    public void ASymlinkReplacedInsideTheBundleIsMadeAgainNotReused()
    {
        using var dir = new TempDirectory();
        string bundle = dir.Combine("bundle");
        string link = Path.Combine(bundle, "rootfs", "bin");
        RootfsPlan plan = SamplePlan(dir.Combine("src"));
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(plan, Top());
        BuildState state = Recorded(bundle, plan);

        // Someone pointed the bundle's link at a secret, and put its time back.
        File.Delete(link);
        File.CreateSymbolicLink(link, "/etc/shadow");
        NativeMethods.SetTimes(link, TargetDefaults.Epoch);

        new BundleWriter(bundle, TargetDefaults.Epoch, state).Write(plan, Top());
        Assert.AreEqual("app", new FileInfo(link).LinkTarget);
    }

    [TestMethod]
    public void NothingIsLinkedFromThePreviousBundleWhenReuseIsOff()
    {
        // A writable root: a container may still write into the previous tree, whose inodes a link would share.
        using var dir = new TempDirectory();
        string bundle = dir.Combine("bundle");
        RootfsPlan plan = SamplePlan(dir.Combine("src"));
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(plan, Top());
        long data = Inode(Path.Combine(bundle, "rootfs", "app", "data.txt")), link = Inode(Path.Combine(bundle, "rootfs", "bin"));

        var writer = new BundleWriter(bundle, TargetDefaults.Epoch, Recorded(bundle, plan)) { Reuse = false };
        writer.Write(SamplePlan(dir.Combine("src")), Top());
        Assert.AreEqual(0L, writer.Statistics.FilesLinked);
        Assert.AreNotEqual(data, Inode(Path.Combine(bundle, "rootfs", "app", "data.txt")));
        Assert.AreNotEqual(link, Inode(Path.Combine(bundle, "rootfs", "bin")));
    }

    [TestMethod]
    public void ALinkSwappedInThePreviousBundleWhileTheNewOneIsWrittenNeverReachesIt()
    {
        // A container writing its own root (rootless, or a writable root) sees link(2) raise a link count in the old tree,
        // and swaps the next link between the writer's check and its link(2): the new name must be the inode checked.
        using var dir = new TempDirectory();
        string bundle = dir.Combine("bundle");
        const int count = 2000;
        RootfsPlan Plan()
        {
            RootfsPlan plan = SamplePlan(dir.Combine("src"));
            for (int i = 0; i < count; i++)
            {
                plan.AddSymlink($"/app/l{i:D5}", "data.txt", "link");
            }

            return plan;
        }

        RootfsPlan plan = Plan();
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(plan, Top());
        for (int round = 0; round < 3; round++)
        {
            BuildState state = Recorded(bundle, plan);
            string evil = dir.Combine("evil" + round);
            Directory.CreateDirectory(evil);
            for (int i = 0; i < count; i++)
            {
                File.CreateSymbolicLink(Path.Combine(evil, $"e{i:D5}"), "/etc/shadow");
                NativeMethods.SetTimes(Path.Combine(evil, $"e{i:D5}"), TargetDefaults.Epoch);
            }

            // The old tree by its inode, as the container holds it (the exchange moves its name, not it).
            using var old = new Microsoft.Win32.SafeHandles.SafeFileHandle(NativeMethods.Open(Path.Combine(bundle, "rootfs", "app"), NativeMethods.O_RDONLY | NativeMethods.O_DIRECTORY, 0), ownsHandle: true);
            string tree = $"/proc/self/fd/{old.DangerousGetHandle()}";
            using var stop = new CancellationTokenSource();
            Task attacker = Task.Run(() =>
            {
                for (int i = 0; i + 1 < count && !stop.IsCancellationRequested; i += 2)
                {
                    var waited = System.Diagnostics.Stopwatch.StartNew();
                    while (!stop.IsCancellationRequested && waited.ElapsedMilliseconds < 200 && NativeMethods.LStat(Path.Combine(tree, $"l{i:D5}")) is not { Nlink: 2 })
                    {
                    }

                    try
                    {
                        File.Move(Path.Combine(evil, $"e{i + 1:D5}"), Path.Combine(tree, $"l{i + 1:D5}"), overwrite: true);
                    }
                    catch (IOException)
                    {
                        // the old tree is gone: the write ended
                    }
                }
            });
            plan = Plan();
            new BundleWriter(bundle, TargetDefaults.Epoch, state).Write(plan, Top());
            stop.Cancel();
            attacker.Wait();

            string now = Path.Combine(bundle, "rootfs", "app");
            int planted = Enumerable.Range(0, count).Count(i => new FileInfo(Path.Combine(now, $"l{i:D5}")).LinkTarget != "data.txt");
            Assert.AreEqual(0, planted, $"round {round}: links swapped into the previous bundle reached the new one");
        }
    }

    [TestMethod]
    public void AFileChangedInPlaceInsideTheBundleIsRepairedNotReused()
    {
        using var dir = new TempDirectory();
        string bundle = dir.Combine("bundle");
        RootfsPlan plan = SamplePlan(dir.Combine("src"));
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(plan, Top());
        BuildState state = Recorded(bundle, plan);

        // What a container with a writable root did: same size, mtime put back, content changed.
        string copy = Path.Combine(bundle, "rootfs", "app", "data.txt");
        File.WriteAllText(copy, "TAMP");
        NativeMethods.SetTimes(copy, TargetDefaults.Epoch);
        string passwd = Path.Combine(bundle, "rootfs", "etc", "passwd");
        File.WriteAllText(passwd, File.ReadAllText(passwd).Replace("root", "r00t", StringComparison.Ordinal));
        NativeMethods.SetTimes(passwd, TargetDefaults.Epoch);

        var writer = new BundleWriter(bundle, TargetDefaults.Epoch, state);
        writer.Write(plan, Top());

        Assert.AreEqual("data", File.ReadAllText(copy), "the tampered copy is replaced from its source");
        StringAssert.StartsWith(File.ReadAllText(passwd), "root:x:0:0:");
        Assert.AreEqual(1L, writer.Statistics.FilesLinked, "only the untouched app file is reused");
    }

    [TestMethod]
    public void FilesOfARootlessBundleNeverPassIntoARootRunOneAndTheReverse()
    {
        TestEnvironment.Require(TestEnvironment.IsRoot, "root (to own files as another user)");
        using var dir = new TempDirectory();
        string bundle = dir.Combine("bundle");
        RootfsPlan plan = SamplePlan(dir.Combine("src"));
        new BundleWriter(bundle, TargetDefaults.Epoch, owner: (1002, 1002)).Write(plan, Top());
        Assert.AreEqual("1002:1002", Owner(Path.Combine(bundle, "rootfs", "app", "data.txt")));

        new BundleWriter(bundle, TargetDefaults.Epoch, Recorded(bundle, plan)).Write(SamplePlan(dir.Combine("src")), Top());
        var owners = Directory.EnumerateFileSystemEntries(Path.Combine(bundle, "rootfs"), "*", SearchOption.AllDirectories).Select(Owner).Distinct().ToList();
        CollectionAssert.AreEqual(new[] { "0:0" }, owners, "every file of the root-run bundle belongs to root");

        new BundleWriter(bundle, TargetDefaults.Epoch, Recorded(bundle, plan), owner: (1002, 1002)).Write(SamplePlan(dir.Combine("src")), Top());
        owners = Directory.EnumerateFileSystemEntries(Path.Combine(bundle, "rootfs"), "*", SearchOption.AllDirectories).Select(Owner).Distinct().ToList();
        CollectionAssert.AreEqual(new[] { "1002:1002" }, owners, "and back: every file of the rootless bundle belongs to the mapped user");
    }

    private static string Owner(string path) => TestEnvironment.RunCapture("stat", "-c", "%u:%g", path).Output.Trim();

    [TestMethod]
    public void AFolderThatIsNotABundleIsNeverReplacedEvenUnderTheLock()
    {
        using var dir = new TempDirectory();
        string target = dir.Combine("deploy");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "deploy.sh"), "echo deploy\n");
        string before = TreeFingerprint(target);

        var e = Assert.ThrowsExactly<OciBundleException>(() => new BundleWriter(target, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top()));

        Assert.AreEqual("OCIB1083", e.Code);
        StringAssert.Contains(e.Message, "deploy.sh");
        Assert.AreEqual(before, TreeFingerprint(target));
        Assert.IsFalse(Directory.EnumerateDirectories(dir.Path, ".deploy.tmp-*").Any(), "no staging folder");
    }

    [TestMethod]
    public void ABundleCarriesTheMarkerAndItsOwnFolderIsReplacedAgain()
    {
        using var dir = new TempDirectory();
        string bundle = dir.Combine("bundle");
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top());
        StringAssert.Contains(File.ReadAllText(Path.Combine(bundle, ".ocibundle")), "\"product\":\"OciBundle.Sdk\",\"kind\":\"OCI bundle\",\"format\":1");
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top("{\"v\":2}\n"));
        Assert.AreEqual("{\"v\":2}\n", File.ReadAllText(Path.Combine(bundle, "config.json")));
    }

    [TestMethod]
    public void ALeftoverThatCannotBeRemovedIsNamedInAWarning()
    {
        TestEnvironment.Require(TestEnvironment.IsRoot && TestEnvironment.Which("chattr") is not null, "root and chattr (e2fsprogs)");
        using var dir = new TempDirectory();
        string leftover = dir.Combine("out", ".bundle.tmp-999-0123456789abcdef0123456789abcdef");
        Directory.CreateDirectory(leftover);
        File.WriteAllText(Path.Combine(leftover, "stuck"), "x");
        TestEnvironment.Require(TestEnvironment.RunCapture("chattr", "+i", Path.Combine(leftover, "stuck")).ExitCode == 0, "a file system where chattr +i works");
        try
        {
            var warnings = new List<OciBundleException>();
            new BundleWriter(dir.Combine("out", "bundle"), TargetDefaults.Epoch, warn: warnings.Add).Write(SamplePlan(dir.Combine("src")), Top());
            Assert.AreEqual("OCIB3007", warnings.Single().Code);
            StringAssert.Contains(warnings.Single().Message, leftover);
            Assert.IsTrue(File.Exists(Path.Combine(dir.Combine("out", "bundle"), "config.json")), "the bundle is written all the same");
        }
        finally
        {
            TestEnvironment.RunCapture("chattr", "-i", Path.Combine(leftover, "stuck"));
        }
    }

    private static RootfsPlan SamplePlan2(string sourceDir)
    {
        var plan = new RootfsPlan();
        HostTree.Add(plan, sourceDir, "/app", "publish output");
        return plan;
    }

    private static long Inode(string path) => long.Parse(TestEnvironment.RunCapture("stat", "-c", "%i", path).Output.Trim());

    [TestMethod]
    public void SymlinksLeavingTheInputsAndSpecialFilesAreRefused()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("pub"));
        File.CreateSymbolicLink(dir.Combine("pub", "secret"), "/etc/shadow");
        var e = Assert.ThrowsExactly<OciBundleException>(() => HostTree.Add(new RootfsPlan(), dir.Combine("pub"), "/app", "test"));
        Assert.AreEqual("OCIB3001", e.Code);

        File.Delete(dir.Combine("pub", "secret"));
        File.CreateSymbolicLink(dir.Combine("pub", "inside"), "sub/file");
        Directory.CreateDirectory(dir.Combine("pub", "sub"));
        File.WriteAllText(dir.Combine("pub", "sub", "file"), "x");
        var plan = new RootfsPlan();
        HostTree.Add(plan, dir.Combine("pub"), "/app", "test");
        Assert.IsTrue(plan.TryGet("/app/inside", out RootfsEntry link) && link.LinkTarget == "sub/file", "a link inside the inputs is kept");

        Assert.AreEqual(0, TestEnvironment.RunCapture("mkfifo", dir.Combine("pub", "fifo")).ExitCode);
        var special = Assert.ThrowsExactly<OciBundleException>(() => HostTree.Add(new RootfsPlan(), dir.Combine("pub"), "/app", "test"));
        Assert.AreEqual("OCIB3002", special.Code);
        StringAssert.Contains(special.Message, "a fifo");
    }

    [TestMethod]
    public void ASecondWriterWaitsForTheFirstAndFailsWithACodeAfterItsTimeout()
    {
        using var dir = new TempDirectory();
        string bundle = dir.Combine("out", "bundle");
        Directory.CreateDirectory(dir.Combine("out"));
        using (new FileStream(dir.Combine("out", ".bundle.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var e = Assert.ThrowsExactly<OciBundleException>(() => new BundleWriter(bundle, TargetDefaults.Epoch, lockTimeout: TimeSpan.FromMilliseconds(300)).Write(SamplePlan(dir.Combine("src")), Top()));
            Assert.AreEqual("OCIB3004", e.Code);
        }

        new BundleWriter(bundle, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top());
        Assert.IsTrue(File.Exists(Path.Combine(bundle, "config.json")));
    }

    [TestMethod]
    public void AMarkerThatAnotherUserPlantedOrThatSitsBesideOtherDataIsNotTrusted()
    {
        using var dir = new TempDirectory();
        string shared = dir.Combine("shared");
        Directory.CreateDirectory(shared);
        File.WriteAllText(Path.Combine(shared, "alice-data.txt"), "precious\n");
        File.WriteAllBytes(Path.Combine(shared, OciBundle.Outputs.OutputFolder.MarkerName), OciBundle.Outputs.OutputFolder.Marker(OciBundle.Outputs.OutputKind.Bundle));
        var beside = Assert.ThrowsExactly<OciBundleException>(() => new BundleWriter(shared, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top()));
        Assert.AreEqual("OCIB1083", beside.Code);
        StringAssert.Contains(beside.Message, "alice-data.txt");

        TestEnvironment.Require(TestEnvironment.IsRoot, "root (to give the marker to another user)");
        File.Delete(Path.Combine(shared, "alice-data.txt"));
        Assert.AreEqual(0, TestEnvironment.RunCapture("chown", "1002:1002", Path.Combine(shared, OciBundle.Outputs.OutputFolder.MarkerName)).ExitCode);
        var planted = Assert.ThrowsExactly<OciBundleException>(() => new BundleWriter(shared, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top()));
        Assert.AreEqual("OCIB1083", planted.Code);
        StringAssert.Contains(planted.Message, "belongs to another user");
    }

    [TestMethod]
    public void AFolderSomeoneMountedIntoTheBundleIsNeverDeleted()
    {
        TestEnvironment.Require(TestEnvironment.IsRoot, "root (to bind-mount a folder into the bundle)");
        using var dir = new TempDirectory();
        string bundle = dir.Combine("out", "bundle");
        RootfsPlan plan = SamplePlan(dir.Combine("src"));
        plan.AddDirectory("/home/app", "home");
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(plan, Top());
        Directory.CreateDirectory(dir.Combine("data"));
        File.WriteAllText(dir.Combine("data", "db.txt"), "precious\n");
        string mountPoint = Path.Combine(bundle, "rootfs", "home", "app");
        ProcessResult mount = TestEnvironment.RunCapture("mount", "--bind", dir.Combine("data"), mountPoint);
        TestEnvironment.Require(mount.ExitCode == 0, "bind mounts (root in a namespace that allows them): " + mount.All);
        try
        {
            var warnings = new List<OciBundleException>();
            new BundleWriter(bundle, TargetDefaults.Epoch, warn: warnings.Add).Write(plan, Top("{\"v\":2}\n"));

            Assert.AreEqual("precious\n", File.ReadAllText(dir.Combine("data", "db.txt")), "what the mount holds is untouched");
            Assert.AreEqual("OCIB3007", warnings.Single().Code);
            StringAssert.Contains(warnings.Single().Message, "(a mount)");
            Assert.AreEqual("{\"v\":2}\n", File.ReadAllText(Path.Combine(bundle, "config.json")), "the new bundle is in place");
        }
        finally
        {
            foreach (string line in File.ReadAllLines("/proc/self/mounts").Where(l => l.Contains(dir.Path, StringComparison.Ordinal)).Reverse())
            {
                TestEnvironment.RunCapture("umount", line.Split(' ')[1]);
            }
        }

        Assert.AreEqual("precious\n", File.ReadAllText(dir.Combine("data", "db.txt")));
    }

    [TestMethod]
    public void RemovingTheOldBundleUnlinksSymlinksInsideItAndNeverFollowsThem()
    {
        using var dir = new TempDirectory();
        string bundle = dir.Combine("out", "bundle");
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top());
        Directory.CreateDirectory(dir.Combine("victim"));
        File.WriteAllText(dir.Combine("victim", "keep.txt"), "mine\n");
        // What a user who can write rootfs/tmp (1777) plants: a folder that is a link to someone else's files.
        Directory.CreateSymbolicLink(Path.Combine(bundle, "rootfs", "tmp", "d"), dir.Combine("victim"));

        new BundleWriter(bundle, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top("{\"v\":2}\n"));

        Assert.AreEqual("mine\n", File.ReadAllText(dir.Combine("victim", "keep.txt")), "the link was removed, not followed");
        Assert.IsFalse(Directory.Exists(Path.Combine(bundle, "rootfs", "tmp", "d")));
    }

    [TestMethod]
    public void AFolderGivenForeignFilesBeforeThePublishIsRefusedUnderTheLockAndKeepsThem()
    {
        using var dir = new TempDirectory();
        string bundle = dir.Combine("out", "bundle");
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top());
        RootfsPlan plan = SamplePlan(dir.Combine("src"));
        var warnings = new List<OciBundleException>();
        var writer = new BundleWriter(bundle, TargetDefaults.Epoch, warn: warnings.Add);

        // A file put into the bundle folder before the publish takes the lock: the check under the lock refuses it.
        File.WriteAllText(Path.Combine(bundle, "notes.txt"), "written during the publish\n");
        var e = Assert.ThrowsExactly<OciBundleException>(() => writer.Write(plan, Top()));
        Assert.AreEqual("OCIB1083", e.Code, "checked under the lock: a folder with foreign files is refused");
        Assert.AreEqual("written during the publish\n", File.ReadAllText(Path.Combine(bundle, "notes.txt")));
    }

    [TestMethod]
    public void ALockFileThatIsASymlinkIsRefusedAndItsTargetNeverCreated()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("out"));
        File.CreateSymbolicLink(dir.Combine("out", ".bundle.lock"), dir.Combine("would-be-created"));
        var e = Assert.ThrowsExactly<OciBundleException>(() => new BundleWriter(dir.Combine("out", "bundle"), TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top()));
        Assert.AreEqual("OCIB3003", e.Code);
        Assert.IsFalse(File.Exists(dir.Combine("would-be-created")), "a planted link never makes the build create a file elsewhere");
        Assert.IsFalse(Directory.Exists(dir.Combine("out", "bundle")));
    }

    [TestMethod]
    public void ASourceSwappedForALinkAfterPlanningIsNotCopied()
    {
        using var dir = new TempDirectory();
        RootfsPlan plan = SamplePlan(dir.Combine("src"));
        File.Delete(dir.Combine("src", "data.txt"));
        File.WriteAllText(dir.Combine("secret"), "TOPSECRET\n");
        File.CreateSymbolicLink(dir.Combine("src", "data.txt"), dir.Combine("secret"));

        var e = Assert.ThrowsExactly<OciBundleException>(() => new BundleWriter(dir.Combine("out", "bundle"), TargetDefaults.Epoch).Write(plan, Top()));

        Assert.AreEqual("OCIB3003", e.Code);
        Assert.IsFalse(Directory.Exists(dir.Combine("out", "bundle")), "nothing written");
    }

    [TestMethod]
    public void AFileWrittenIntoTheOldBundleWhileTheNewOneIsStagedIsKeptNotDeleted()
    {
        using var dir = new TempDirectory();
        string bundle = dir.Combine("out", "bundle");
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(SamplePlan(dir.Combine("src")), Top());
        var warnings = new List<OciBundleException>();
        using (var staged = new StagedDirectory(bundle, TimeSpan.FromSeconds(5), OciBundle.Outputs.OutputKind.Bundle, warnings.Add))
        {
            Directory.CreateDirectory(staged.StagingPath);
            File.WriteAllText(Path.Combine(staged.StagingPath, "config.json"), "{}\n");
            File.WriteAllText(Path.Combine(bundle, "notes.txt"), "written during the publish\n"); // after the check under the lock
            staged.Commit();
        }

        string kept = Directory.EnumerateDirectories(dir.Combine("out"), ".bundle.kept-*").Single();
        Assert.AreEqual("written during the publish\n", File.ReadAllText(Path.Combine(kept, "notes.txt")), "not ours: moved aside with the old bundle, never deleted");
        Assert.IsFalse(Directory.Exists(Path.Combine(kept, "rootfs")), "what the product wrote there is removed");
        Assert.AreEqual("OCIB3007", warnings.Single().Code);
        StringAssert.Contains(warnings.Single().Message, "notes.txt");
    }

    [TestMethod]
    public void TheMarkerReadWithoutAParserIsTheOneWritten()
    {
        foreach (OciBundle.Outputs.OutputKind kind in new[] { OciBundle.Outputs.OutputKind.Bundle, OciBundle.Outputs.OutputKind.Image })
        {
            // The text, against what the JSON serializer makes of the marker's record: the same JSON, and its bytes.
            var marker = new OciBundle.Outputs.OutputMarker { Product = "OciBundle.Sdk", Kind = kind == OciBundle.Outputs.OutputKind.Bundle ? "OCI bundle" : "OCI image layout", Format = (long)OciBundle.Outputs.OutputFolder.MarkerFormat };
            Assert.AreEqual(Newtonsoft.Json.JsonConvert.SerializeObject(marker, OciBundle.Model.Oci.OciJson.Settings) + "\n", System.Text.Encoding.UTF8.GetString(OciBundle.Outputs.OutputFolder.Marker(kind)));
        }
    }

    [TestMethod]
    public void WhatAContainerWroteIntoTheOldRootfsIsKeptAsideNotDeleted()
    {
        using var dir = new TempDirectory();
        string bundle = dir.Combine("out", "bundle");
        RootfsPlan plan = SamplePlan(dir.Combine("src"));
        new BundleWriter(bundle, TargetDefaults.Epoch).Write(plan, Top());
        BuildState state = Recorded(bundle, plan);
        File.WriteAllText(Path.Combine(bundle, "rootfs", "tmp", "state.txt"), "important\n"); // a run with a writable root
        var warnings = new List<OciBundleException>();

        new BundleWriter(bundle, TargetDefaults.Epoch, state, warn: warnings.Add).Write(plan, Top());

        Assert.IsFalse(File.Exists(Path.Combine(bundle, "rootfs", "tmp", "state.txt")), "the new bundle is as planned");
        string kept = Directory.EnumerateDirectories(dir.Combine("out"), ".bundle.kept-*").Single();
        Assert.AreEqual("important\n", File.ReadAllText(Path.Combine(kept, "rootfs", "tmp", "state.txt")), "kept aside, never deleted");
        Assert.IsFalse(File.Exists(Path.Combine(kept, "rootfs", "app", "data.txt")), "what the product wrote is removed");
        StringAssert.Contains(warnings.Single().Message, Path.Combine(kept, "rootfs", "tmp", "state.txt"), "the warning names the file where it is kept");
    }
}
