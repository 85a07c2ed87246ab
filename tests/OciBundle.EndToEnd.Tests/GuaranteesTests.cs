using System.Diagnostics;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>Issue 5: atomic, incremental, reproducible, serialised, and safe under kills and full disks.</summary>
[TestClass]
public sealed class GuaranteesTests
{
    private static string Hello(string text) => $"Console.WriteLine(\"{text}\");";

    /// <summary>Path, inode and mtime of everything in the bundle, from one find(1).</summary>
    private static Dictionary<string, string> Inodes(string bundle)
    {
        ProcessResult find = TestEnvironment.RunCapture("find", bundle, "-printf", "%P\\t%i %T@ %y\\n");
        Assert.AreEqual(0, find.ExitCode, find.All);
        return find.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToDictionary(p => p[0], p => p[1]);
    }

    [TestMethod]
    public void ANoOpPublishWritesNothingAndAnAppChangeRewritesOnlyTheApp()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("Incremental", program: Hello("version 1"));
        project.Publish("-p:PublishOciBundle=true");
        Dictionary<string, string> first = Inodes(project.BundleDir);

        ProcessResult noop = project.Publish("-p:PublishOciBundle=true", "-v:d");
        StringAssert.Contains(noop.Output, "Nothing changed since the last publish");
        StringAssert.Contains(noop.Output, "(OCI bundle: ", "the summary line, on a no-op publish too");
        StringAssert.Contains(noop.Output, ", up to date); run it with: sudo runc run --bundle ");
        CollectionAssert.AreEquivalent(first.ToList(), Inodes(project.BundleDir).ToList(), "a no-op publish changed no path, inode or timestamp");

        project.WriteProgram(Hello("version 2"));
        project.Publish("-p:PublishOciBundle=true");
        Dictionary<string, string> second = Inodes(project.BundleDir);
        var rewritten = second.Where(p => p.Value.EndsWith(" f") && (!first.TryGetValue(p.Key, out string? before) || before.Split(' ')[0] != p.Value.Split(' ')[0])).Select(p => p.Key).ToList();

        CollectionAssert.Contains(rewritten, "rootfs/app/Incremental.dll");
        var outsideApp = rewritten.Where(p => !p.StartsWith("rootfs/app/", StringComparison.Ordinal) && p is not ("config.json" or "provenance.json" or ".ocibundle" or "sbom.spdx.json" or "rootfs/usr/share/sbom/sbom.spdx.json")).ToList();
        Assert.AreEqual(0, outsideApp.Count, "only the app's files (and the SBOM, which lists their checksums) were rewritten, not: " + string.Join(", ", outsideApp));
        Assert.IsTrue(rewritten.Count < 10, $"{rewritten.Count} files rewritten: {string.Join(", ", rewritten)}");
        Assert.AreEqual("version 2\n", Runc.RunAsRoot(project.BundleDir).Output);
    }

    [TestMethod]
    public void CleanRebuildsGiveIdenticalTreesWithSourceDateEpoch()
    {
        using TestProject project = TestProject.WithSdkElement("Reproducible", program: Hello("same"));
        project.Environment["SOURCE_DATE_EPOCH"] = "1700000000";
        project.Publish("-p:PublishOciBundle=true");
        string first = TreeFingerprint.Of(project.BundleDir);

        Directory.Delete(Path.Combine(project.Directory, "bin"), recursive: true);
        Directory.Delete(Path.Combine(project.Directory, "obj"), recursive: true);
        project.Publish("-p:PublishOciBundle=true");

        Assert.AreEqual(first, TreeFingerprint.Of(project.BundleDir), "paths, types, modes, sizes, timestamps, link targets and contents");
        Assert.AreEqual(1700000000, new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(project.BundleDir, "rootfs", "app", "Reproducible.dll"))).ToUnixTimeSeconds());
        Assert.AreEqual(1700000000, new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(project.BundleDir, "config.json"))).ToUnixTimeSeconds());
        ProcessResult suid = TestEnvironment.RunCapture("find", project.BundleDir, "-perm", "/6000", "-o", "-type", "b", "-o", "-type", "c", "-o", "-type", "p", "-o", "-type", "s");
        Assert.AreEqual("", suid.Output, "no setuid/setgid file, no device node, fifo or socket");
    }

    [TestMethod]
    public void PublishesKilledWhileWritingNeverLeaveABrokenBundle()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("Killed", program: Hello("version 0"));
        project.Publish("-p:PublishOciBundle=true");
        string parent = Path.GetDirectoryName(project.BundleDir)!;
        var random = new Random(20261122);
        int killedWhileWriting = 0;

        for (int round = 1; round <= 4; round++)
        {
            project.WriteProgram(Hello($"version {round}"));
            Process publish = project.StartPublish("-p:PublishOciBundle=true");
            // Wait for the bundle step to start writing its staging folder, then kill everything at a random moment.
            var clock = Stopwatch.StartNew();
            while (!publish.HasExited && !Directory.EnumerateDirectories(parent, ".oci-bundle.tmp-*").Any() && clock.Elapsed < TimeSpan.FromMinutes(3))
            {
                Thread.Sleep(5);
            }

            if (!publish.HasExited)
            {
                killedWhileWriting++;
            }

            Thread.Sleep(random.Next(0, 250));
            TestEnvironment.RunCapture("kill", "-9", "--", "-" + publish.Id);
            publish.WaitForExit();

            // Whole: either the previous version or this one, and it runs.
            ProcessResult run = Runc.RunAsRoot(project.BundleDir);
            Assert.AreEqual(0, run.ExitCode, $"round {round}: the bundle does not run after the kill:\n{run.All}");
            CollectionAssert.Contains(new[] { $"version {round - 1}\n", $"version {round}\n" }, run.Output, $"round {round}");
            if (run.Output == $"version {round - 1}\n")
            {
                // The kill came before the swap: the next publish must still see the change (its stamp was not written).
                project.Publish("-p:PublishOciBundle=true");
                Assert.AreEqual($"version {round}\n", Runc.RunAsRoot(project.BundleDir).Output);
            }
        }

        Assert.IsTrue(killedWhileWriting > 0, "at least one kill landed while the bundle was being written");
        project.WriteProgram(Hello("final"));
        project.Publish("-p:PublishOciBundle=true");
        Assert.AreEqual("final\n", Runc.RunAsRoot(project.BundleDir).Output);
        Assert.IsFalse(Directory.EnumerateDirectories(parent, ".oci-bundle.*").Any(), "no leftovers after a normal publish");
    }

    [TestMethod]
    public void TwoPublishesToOneBundleFolderAtOnceGiveAWholeBundle()
    {
        Runc.RequireRoot();
        using var shared = new TempDirectory();
        string bundle = shared.Combine("bundle");
        using TestProject a = TestProject.WithSdkElement("ConcurrentA", program: Hello("from A"));
        using TestProject b = TestProject.WithSdkElement("ConcurrentB", program: Hello("from B"));
        a.Publish("-p:PublishOciBundle=true", "-p:OciBundleDir=" + shared.Combine("warm-a") + "/");
        b.Publish("-p:PublishOciBundle=true", "-p:OciBundleDir=" + shared.Combine("warm-b") + "/");

        Process pa = a.StartPublish("-p:PublishOciBundle=true", $"-p:OciBundleDir={bundle}/");
        Process pb = b.StartPublish("-p:PublishOciBundle=true", $"-p:OciBundleDir={bundle}/");
        pa.WaitForExit();
        pb.WaitForExit();

        Assert.AreEqual(0, pa.ExitCode, "first publish");
        Assert.AreEqual(0, pb.ExitCode, "second publish waited for the first");
        ProcessResult run = Runc.RunAsRoot(bundle);
        CollectionAssert.Contains(new[] { "from A\n", "from B\n" }, run.Output);
        string app = run.Output == "from A\n" ? "ConcurrentA" : "ConcurrentB";
        string other = app == "ConcurrentA" ? "ConcurrentB" : "ConcurrentA";
        Assert.IsTrue(File.Exists(Path.Combine(bundle, "rootfs", "app", app + ".dll")));
        Assert.IsFalse(File.Exists(Path.Combine(bundle, "rootfs", "app", other + ".dll")), "not a mix of both");
    }

    [TestMethod]
    public void AFullDiskGivesACodedErrorAndKeepsThePreviousBundle()
    {
        Runc.RequireRoot();
        using var disk = new TempDirectory();
        ProcessResult mount = TestEnvironment.RunCapture("mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", disk.Path);
        TestEnvironment.Require(mount.ExitCode == 0, "mounting a small tmpfs (root in a namespace that allows mounts): " + mount.All);
        try
        {
            string bundle = disk.Combine("bundle");
            using TestProject project = TestProject.WithSdkElement("FullDisk", program: Hello("fits"));
            project.Publish("-p:PublishOciBundle=true", $"-p:OciBundleDir={bundle}/");
            string before = TreeFingerprint.Of(bundle);

            // A new working directory changes every path, so nothing can be reused: a second copy does not fit.
            ProcessResult full = project.Publish(false, "-p:PublishOciBundle=true", $"-p:OciBundleDir={bundle}/", "-p:OciBundleWorkingDirectory=/srv");

            StringAssert.Contains(full.Output, "error OCIB3003: the bundle cannot be written to");
            StringAssert.Contains(full.Output, "No space left on device");
            Assert.AreEqual(before, TreeFingerprint.Of(bundle), "the previous bundle is intact");
            CollectionAssert.AreEquivalent(new[] { "bundle", ".bundle.lock" }, Directory.GetFileSystemEntries(disk.Path).Select(Path.GetFileName).ToArray(), "no temporary folder left");
            Assert.AreEqual("fits\n", Runc.RunAsRoot(bundle).Output);
        }
        finally
        {
            TestEnvironment.RunCapture("umount", disk.Path);
        }
    }
}
