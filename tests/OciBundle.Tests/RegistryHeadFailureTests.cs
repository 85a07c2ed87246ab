using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Diagnostics;
using OciBundle.Images;
using OciBundle.Registries;
using OciBundle.Request;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// Issue 30 item 1: a blob whose HEAD keeps answering 5xx after the retries is taken for absent and uploaded (an upload
/// overwrites it in distribution), said at low importance; the push fails only if that upload fails. The state a crash
/// leaves is made on purpose in a real docker-registry's storage, so the path is taken on every run.
/// </summary>
[TestClass]
public sealed class RegistryHeadFailureTests
{
    private static readonly Func<int, TimeSpan> Quick = _ => TimeSpan.FromMilliseconds(10);

    private static PushResult Push(string host, string image, List<string> log) => Push(host, image, log.Add, _ => { });

    private static PushResult Push(string host, string image, Action<string> log, Action<string> progress) =>
        ImagePusher.Push(
            PushSpec.Parse(new PushOptions { ImageDirectory = image, Registry = host, Repository = "team/app", Tags = { "latest" }, InsecureRegistries = { host } }, _ => null),
            _ => null, log, progress, chunkSize: 64 * 1024, backoff: Quick);

    /// <summary>The repository's link to a layer, which distribution writes in place (truncate, then write) when a blob's upload completes.</summary>
    private static string LayerLink(TestRegistry registry, string digest) =>
        Path.Combine(registry.Storage, "docker", "registry", "v2", "repositories", "team", "app", "_layers", "sha256", digest[7..], "link");

    [TestMethod]
    public void ThePushLogsOneLineAtATimeThoughBlobsGoUpInParallel()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        ImageResult layout = RegistryPushTests.WriteLayout(dir, image);
        int inside = 0, overlaps = 0, lines = 0;
        void Slow(string line)
        {
            // A caller's log that is not safe to enter twice (a List's Add): it must never be.
            if (Interlocked.Increment(ref inside) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            Thread.Sleep(2);
            lines++;
            Interlocked.Decrement(ref inside);
        }

        PushResult pushed = Push(registry.Host, image, Slow, Slow);
        Assert.AreEqual(layout.ManifestDigest, pushed.ManifestDigest);
        Assert.AreEqual(4, pushed.BlobsUploaded, "four blobs, up to three at once");
        Assert.IsTrue(lines > 8, $"requests were logged ({lines} lines; its blobs are too quick for progress lines, which ALogAndAProgressGivenOneSink... holds)");
        Assert.AreEqual(0, overlaps, $"a line was given while another was still being written ({lines} lines)");
    }

    [TestMethod]
    public void ALogAndAProgressGivenOneSinkAreNeverEnteredAtOnce()
    {
        // The unit tests give one List to both (logged.Add, logged.Add): a progress line from one blob's upload and a
        // request's log line from another's must not reach it at once. Two chunked blobs, each PATCH answered slowly, so
        // each blob says its progress (every 2 s) while the other goes on logging its requests.
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        RegistryPushTests.WriteLayout(dir, image, app: Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(600_000)));
        int inside = 0, overlaps = 0, progressLines = 0;
        void Sink(string line)
        {
            if (Interlocked.Increment(ref inside) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            bool progress = line.Contains(": uploading sha256:", StringComparison.Ordinal);
            if (progress)
            {
                Interlocked.Increment(ref progressLines);
            }

            Thread.Sleep(progress ? 1000 : 1);
            Interlocked.Decrement(ref inside);
        }

        ImagePusher.Push(
            PushSpec.Parse(new PushOptions { ImageDirectory = image, Registry = registry.Host, Repository = "team/app", Tags = { "latest" }, InsecureRegistries = { registry.Host } }, _ => null),
            _ => null, Sink, Sink, handler: new SlowPatches(), chunkSize: 64 * 1024, backoff: Quick);
        Assert.IsTrue(progressLines >= 2, $"both blobs said their progress ({progressLines} lines)");
        Assert.AreEqual(0, overlaps, "a log line was given while a progress line was still being written");
    }

    /// <summary>Answers each PATCH 450 ms late.</summary>
    private sealed class SlowPatches : DelegatingHandler
    {
        public SlowPatches() : base(new SocketsHttpHandler()) { }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancel)
        {
            HttpResponseMessage response = await base.SendAsync(request, cancel).ConfigureAwait(false);
            if (request.Method == HttpMethod.Patch)
            {
                await Task.Delay(450, cancel).ConfigureAwait(false);
            }

            return response;
        }
    }

    [TestMethod]
    public void ABlobWhoseWriteACrashCutOffAnswersHead500AndIsUploadedAgain()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        RegistryPushTests.WriteLayout(dir, image);
        Push(registry.Host, image, new List<string>());

        // A kill between the truncation of the large layer's link and its write leaves it empty: HEAD then answers 500, for good.
        string runtimeLayer = ImageLayout.Read(image).Blobs.OrderByDescending(b => b.Size).First().Digest;
        registry.Stop();
        File.WriteAllBytes(LayerLink(registry, runtimeLayer), Array.Empty<byte>());
        registry.Start();
        using (var http = new HttpClient())
        {
            using HttpResponseMessage head = http.Send(new HttpRequestMessage(HttpMethod.Head, $"http://{registry.Host}/v2/team/app/blobs/{runtimeLayer}"));
            Assert.AreEqual(500, (int)head.StatusCode, "the state distribution is left in after a cut-off write");
        }

        // The next publish (an app change, which shares that layer) uploads it again and completes.
        int failedHeads = registry.SettledRequests().Count(r => r.Method == "HEAD" && r.Path.EndsWith(runtimeLayer, StringComparison.Ordinal) && r.Status == 500);
        string image2 = dir.Combine("img2");
        ImageResult changed = RegistryPushTests.WriteLayout(dir, image2, "app v2");
        var log = new List<string>();
        PushResult pushed = Push(registry.Host, image2, log);
        Assert.AreEqual(changed.ManifestDigest, pushed.ManifestDigest);
        Assert.AreEqual(3, pushed.BlobsUploaded, "the new app layer, the new config, and the layer whose HEAD answered 500");
        Assert.IsTrue(log.Any(l => l.Contains($"HEAD blob {runtimeLayer}: 500", StringComparison.Ordinal) && l.Contains("uploading it as if absent", StringComparison.Ordinal)), string.Join("\n", log));
        Assert.AreEqual(failedHeads + 4, registry.SettledRequests().Count(r => r.Method == "HEAD" && r.Path.EndsWith(runtimeLayer, StringComparison.Ordinal) && r.Status == 500), "asked four times first");
        RegistryPull.AssertPullable(registry.Host, "team/app", "latest", changed.ManifestDigest);
        Assert.AreEqual(runtimeLayer, File.ReadAllText(LayerLink(registry, runtimeLayer)), "the upload wrote the link again");
    }

    [TestMethod]
    public void AHeadThatKeepsAnswering5xxIsUploadedAndOnlyAFailingUploadFailsThePush()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        ImageResult layout = RegistryPushTests.WriteLayout(dir, image);
        static bool IsBlobHead(ProxiedRequest r) => r.Method == "HEAD" && r.Path.Contains("/blobs/", StringComparison.Ordinal);

        // Every blob's HEAD: 503, every time. Every blob goes up, and the push completes.
        var log = new List<string>();
        using (var proxy = new RegistryProxy(registry.Host, r => IsBlobHead(r) ? ProxyAnswer.Error(503, "UNAVAILABLE", "metadata store down") : null))
        {
            PushResult pushed = Push(proxy.Host, image, log);
            Assert.AreEqual(layout.ManifestDigest, pushed.ManifestDigest);
            Assert.AreEqual(4, pushed.BlobsUploaded);
            Assert.AreEqual(16, proxy.Seen.Count(s => s.Method == "HEAD" && s.PathAndQuery.Contains("/blobs/", StringComparison.Ordinal)), "four blobs, four attempts each");
        }

        Assert.AreEqual(4, log.Count(l => l.Contains(": 503 ", StringComparison.Ordinal) && l.Contains("uploading it as if absent", StringComparison.Ordinal)), string.Join("\n", log));
        RegistryPull.AssertPullable(registry.Host, "team/app", "latest", layout.ManifestDigest);

        // The HEAD fails and so does the upload: the push fails, with the upload's error, and moves no tag.
        string image2 = dir.Combine("img2");
        RegistryPushTests.WriteLayout(dir, image2, "app v2");
        using (var proxy = new RegistryProxy(registry.Host, r => IsBlobHead(r) ? ProxyAnswer.Error(500, "UNKNOWN", "down")
            : r.Method == "PUT" && r.Path.Contains("/blobs/uploads/", StringComparison.Ordinal) ? ProxyAnswer.Error(500, "UNKNOWN", "storage full") : null))
        {
            OciBundleException e;
            try
            {
                Push(proxy.Host, image2, new List<string>());
                throw new AssertFailedException("the push succeeded");
            }
            catch (OciBundleException caught)
            {
                e = caught;
            }

            Assert.AreEqual("OCIB1419", e.Code, e.Message);
            StringAssert.Contains(e.Message, "PUT blob");
            StringAssert.Contains(e.Message, "storage full");
        }

        Assert.AreEqual(layout.ManifestDigest, RegistryPull.TagDigest(registry.Host, "team/app", "latest"), "the tag still names the image it named");
    }
}
