using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Outputs;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>The project's state in obj/ (what the last publish was made from) and its lock, as a user meets them when something is in the way.</summary>
[TestClass]
public sealed class ProjectStateTests
{
    [TestMethod]
    public void AStateThatCannotBeSavedIsWarningOcib3018AndTheBundleStands()
    {
        using var f = new SafetyTests.Fixture();
        Directory.CreateDirectory(f.State); // a folder where the state file goes
        f.Publish();
        CollectionAssert.AreEqual(new[] { "OCIB3018" }, f.Engine.Warnings.Select(w => w.Code).ToArray());
        StringAssert.Contains(f.Engine.Warnings[0].Message, "the outputs are written");
        Assert.IsTrue(File.Exists(Path.Combine(f.Bundle, "config.json")), "the bundle was written");
        CollectionAssert.AreEqual(Array.Empty<string>(), Directory.GetFiles(Path.GetDirectoryName(f.State)!, "state.json.tmp-*"), "no temporary state left");
    }

    [TestMethod]
    public void ALeftoverOfAKilledSaveIsRemovedByTheNextSaveButALinkNamedLikeOneIsNotFollowed()
    {
        using var f = new SafetyTests.Fixture();
        string obj = Directory.CreateDirectory(Path.GetDirectoryName(f.State)!).FullName;
        File.WriteAllText(f.State + ".tmp-0123456789abcdef", "half a state");
        string precious = Path.Combine(f.Root, "precious");
        File.WriteAllText(precious, "keep");
        File.CreateSymbolicLink(f.State + ".tmp-link", precious);

        f.Publish();
        Assert.IsFalse(File.Exists(f.State + ".tmp-0123456789abcdef"), "the killed save's file is gone");
        Assert.AreEqual("keep", File.ReadAllText(precious));
        Assert.IsTrue(File.Exists(f.State), Path.Combine(obj, "state.json"));
    }

    [TestMethod]
    public void ALockThatIsALinkIsOcib3019AndNothingIsWritten()
    {
        using var f = new SafetyTests.Fixture();
        Directory.CreateDirectory(Path.GetDirectoryName(f.State)!);
        string target = Path.Combine(f.Root, "target");
        File.WriteAllText(target, "untouched");
        File.CreateSymbolicLink(StagedDirectory.LockFilePath(f.State), target);

        string[] codes = f.Fail();
        Assert.AreEqual("OCIB3019", string.Join(",", codes), string.Join("\n", f.Engine.Errors.Select(e => e.Message)));
        StringAssert.Contains(f.Engine.Errors[0].Message, "Nothing was written");
        Assert.AreEqual("untouched", File.ReadAllText(target));
        Assert.IsFalse(Directory.Exists(f.Bundle));
    }

    [TestMethod]
    public void ARefusedOptionOfAFirstPublishLeavesNothingInObj()
    {
        using var f = new SafetyTests.Fixture();
        string obj = Path.GetDirectoryName(f.State)!;
        CollectionAssert.AreEqual(new[] { "OCIB1040" }, f.Fail(t => t.User = "not a user"));
        Assert.IsFalse(Directory.Exists(obj), "no state folder, no lock file");
    }

    [TestMethod]
    public void ARefusedOptionIsSaidAtOnceWhileAnotherPublishHoldsTheProjectAndItsLockIsLetGoAfter()
    {
        using var f = new SafetyTests.Fixture();
        Directory.CreateDirectory(Path.GetDirectoryName(f.State)!); // an earlier publish's: the state is read early, under the lock

        // Another publish of the project holds it: the last publish's state is read under that lock, meanwhile.
        Microsoft.Win32.SafeHandles.SafeFileHandle held = StagedDirectory.LockFile(f.State, TimeSpan.FromSeconds(5))!;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        CollectionAssert.AreEqual(new[] { "OCIB1040" }, f.Fail(t => t.User = "not a user"));
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(10), $"said after {clock.Elapsed}, not once the other publish ends");

        // The refused publish's reading lets go of the lock (or never takes it) once the other lets go.
        held.Dispose();
        using Microsoft.Win32.SafeHandles.SafeFileHandle? next = StagedDirectory.LockFile(f.State, TimeSpan.FromSeconds(30));
        Assert.IsNotNull(next, "the lock was let go");
    }

    [TestMethod]
    public void APublishWaitingForAnotherOfTheSameProjectSaysSo()
    {
        using var f = new SafetyTests.Fixture();
        f.Publish();
        Microsoft.Win32.SafeHandles.SafeFileHandle held = StagedDirectory.LockFile(f.State, TimeSpan.FromSeconds(5))!;
        Task release = Task.Delay(1500).ContinueWith(_ => held.Dispose(), TaskScheduler.Default);
        f.Publish(t => t.Hostname = "another");
        release.Wait();
        Assert.IsTrue(f.Engine.Messages.Any(m => m.Message!.StartsWith("Waiting for another publish of this project to finish", StringComparison.Ordinal)), "the wait is said");
    }

    [TestMethod]
    public void FilesAreLinkedIntoTheNextBundleOnlyBetweenReadOnlyRoots()
    {
        using var f = new SafetyTests.Fixture();
        string file = Path.Combine(f.Bundle, "rootfs", "app", "libSystem.Native.so");
        ulong Inode() => Interop.NativeMethods.LStat(file)!.Value.Inode;

        f.Publish(t => t.ReadOnly = false);
        ulong writable = Inode();
        f.Publish(t => t.Hostname = "read-only-now");
        Assert.AreNotEqual(writable, Inode(), "a container of the writable bundle may still write into its files: copied, not linked");
        ulong readOnly = Inode();
        f.Publish(t => t.Hostname = "read-only-again");
        Assert.AreEqual(readOnly, Inode(), "between read-only roots an unchanged file is linked");
        f.Publish(t => { t.ReadOnly = false; t.Hostname = "writable-again"; });
        Assert.AreNotEqual(readOnly, Inode(), "nor into a writable one");
    }
}
