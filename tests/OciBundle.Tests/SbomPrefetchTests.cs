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
}
