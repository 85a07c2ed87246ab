using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Diagnostics;
using OciBundle.Planning;
using OciBundle.Request;
using OciBundle.Storage;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// The SBOM's prefetch (<see cref="SbomPrefetch"/>) hashes the app's files beside the plan; a plan that fails before
/// the SBOM step stops it rather than waiting for it to hash every file for an SBOM that will not be made.
/// </summary>
[TestClass]
public sealed class SbomPrefetchTests
{
    [TestMethod]
    public void APlanThatFailsBeforeTheSbomStepStopsThePrefetchInsteadOfWaitingForItsHashing()
    {
        using var dir = new TempDirectory();
        string publish = dir.Combine("publish");
        Directory.CreateDirectory(publish);
        // 128 MB to hash on the prefetch's thread (sparse: nothing written to disk), and no app host or assembly, so
        // the plan fails at its entry point (ArgsStep), a few steps after the prefetch starts.
        for (int i = 0; i < 32; i++)
        {
            using var file = new FileStream(Path.Combine(publish, $"data{i:D2}.bin"), FileMode.CreateNew);
            file.SetLength(4 << 20);
        }

        string cache = dir.Combine("cache");
        BundleOptions options = TargetDefaults.Options(publish, dir.Combine("bundle"), "Hello", "Hello");
        options.RuntimeIdentifier = "linux-x64";
        options.Sbom = true;
        options.CacheDirectory = cache;

        var e = Assert.ThrowsExactly<OciBundleException>(() => BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }));
        Assert.AreEqual("OCIB2015", e.Code, e.Message);

        // What a wave hashed to the end is written to the digest cache; a stopped wave writes nothing.
        DigestCache? digests = DigestCache.Open(cache, _ => { });
        Assert.IsNotNull(digests);
        Assert.AreEqual(0, digests.Read(publish).Count, "the prefetch hashed the app's files to the end after the plan had failed");
    }

    [TestMethod]
    public void AFileSwappedSincePlanningForAFifoOrAnotherFileIsRefusedNotHashedOrWaitedOn()
    {
        using var dir = new TempDirectory();
        string app = dir.Combine("App.dll");
        File.WriteAllBytes(app, new byte[200_000]);
        Model.RootfsEntry Planned() => new("/app/App.dll", Model.RootfsEntryKind.File, Model.FileModes.Data, "the app")
        {
            SourcePath = app, SourceInode = Interop.NativeMethods.LStat(app)!.Value.Inode, Size = new FileInfo(app).Length,
        };
        System.Threading.Tasks.Task Hash(Model.RootfsEntry entry) => System.Threading.Tasks.Task.Run(() =>
            Spdx.FileDigests.Compute(new[] { entry }, new Dictionary<string, string>(), null, null, CancellationToken.None, threads: 1));

        // Planned, then replaced by a FIFO no one writes to: an open that follows the name would wait for good.
        Model.RootfsEntry planned = Planned();
        File.Delete(app);
        Assert.AreEqual(0, TestEnvironment.RunCapture("mkfifo", app).ExitCode);
        System.Threading.Tasks.Task fifo = Hash(planned);
        Assert.IsTrue(System.Threading.Tasks.Task.WaitAny(new[] { fifo }, TimeSpan.FromSeconds(30)) == 0, "the hashing waits on a FIFO swapped in after planning");
        Assert.IsInstanceOfType<IOException>(fifo.Exception?.InnerException, "refused: " + fifo.Exception);

        // Planned, then replaced by another file of the same name: its bytes are not the planned file's.
        File.Delete(app);
        File.WriteAllBytes(app, new byte[200_000]);
        planned = Planned();
        File.Move(app, app + ".old");
        File.WriteAllBytes(app, new byte[] { 1, 2, 3 });
        var swapped = Assert.ThrowsExactly<AggregateException>(() => Hash(planned).Wait());
        StringAssert.Contains(swapped.InnerException!.Message, "was replaced", swapped.ToString());
    }
}
