using System.Globalization;
using System.Net;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Diagnostics;
using OciBundle.Images;
using OciBundle.Registries;
using OciBundle.Request;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// 429, 5xx and Retry-After, over real sockets: a <see cref="RegistryProxy"/> on 127.0.0.1 in front of a real
/// docker-registry answers some requests itself and lets the rest through. The backoff is made short (10 ms), so a
/// wait the test sees between two attempts is the registry's Retry-After, not the client's own pace.
/// </summary>
[TestClass]
public sealed class RegistryRetryTests
{
    private static readonly Func<int, TimeSpan> Quick = _ => TimeSpan.FromMilliseconds(10);

    private static PushSpec Spec(string host, string image, string tags = "latest;1.0") =>
        PushSpec.Parse(new PushOptions { ImageDirectory = image, Registry = host, Repository = "team/app", Tags = tags.Split(';').ToList(), InsecureRegistries = { host } }, _ => null);

    private static PushResult Push(string host, string image, string tags = "latest;1.0") =>
        ImagePusher.Push(Spec(host, image, tags), _ => null, _ => { }, _ => { }, chunkSize: 64 * 1024, backoff: Quick);

    private static OciBundleException Fails(Action push)
    {
        try
        {
            push();
        }
        catch (OciBundleException e)
        {
            return e;
        }

        throw new AssertFailedException("the push succeeded");
    }

    private static string? Digest(TestRegistry registry, string tag)
    {
        using var http = new HttpClient();
        var request = new HttpRequestMessage(HttpMethod.Head, $"http://{registry.Host}/v2/team/app/manifests/{tag}");
        request.Headers.Accept.ParseAdd(Model.Oci.OciMediaTypes.ImageManifest);
        using HttpResponseMessage response = http.Send(request);
        return response.IsSuccessStatusCode ? response.Headers.GetValues("Docker-Content-Digest").Single() : null;
    }

    private static bool IsBlobPut(ProxiedRequest r) => r.Method == "PUT" && r.Path.Contains("/blobs/uploads/", StringComparison.Ordinal);

    /// <summary>The gap before the request that followed the first one <paramref name="first"/> picks out, to the same path.</summary>
    private static TimeSpan GapAfter(RegistryProxy proxy, Func<(TimeSpan At, string Method, string PathAndQuery, int Status), bool> first)
    {
        var seen = proxy.Seen.OrderBy(s => s.At).ToList();
        int i = seen.FindIndex(s => first(s));
        Assert.IsTrue(i >= 0, "no such request: " + string.Join("\n", seen));
        var next = seen.Skip(i + 1).First(s => s.Method == seen[i].Method && s.PathAndQuery.Split('?')[0] == seen[i].PathAndQuery.Split('?')[0]);
        return next.At - seen[i].At;
    }

    [TestMethod]
    public void APushThrough429And503AnswersSucceedsHonouringRetryAfterWithBoundedAttempts()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        ImageResult layout = RegistryPushTests.WriteLayout(dir, image);
        var faulted = new HashSet<string>();
        int manifestHeads = 0;
        using var proxy = new RegistryProxy(registry.Host, r =>
        {
            // The first HEAD of a manifest: 429 with Retry-After: 1; the second: 503; then the registry's own answers.
            if (r.Method == "HEAD" && r.Path.Contains("/manifests/", StringComparison.Ordinal) && manifestHeads++ < 2)
            {
                return manifestHeads == 1 ? ProxyAnswer.Error(429, "TOOMANYREQUESTS", "slow down", ("Retry-After", "1")) : ProxyAnswer.Error(503, "UNAVAILABLE", "busy");
            }

            // Each blob's first upload: a 503 when its last request (the PUT with the digest) arrives, twice for the chunked one.
            if (IsBlobPut(r) && r.PathAndQuery.Split("digest=")[1] is { } digest && (faulted.Add(digest) || (r.Body.Length == 0 && faulted.Add(digest + "/again"))))
            {
                return new ProxyAnswer(503, "", ("Retry-After", "0"));
            }

            // A manifest's first PUT: 502.
            if (r.Method == "PUT" && r.Path.Contains("/manifests/", StringComparison.Ordinal) && faulted.Add(r.Path))
            {
                return new ProxyAnswer(502);
            }

            return null;
        });

        var clock = System.Diagnostics.Stopwatch.StartNew();
        PushResult pushed = Push(proxy.Host, image);
        Assert.AreEqual(layout.ManifestDigest, pushed.ManifestDigest);
        Assert.AreEqual(layout.ManifestDigest, Digest(registry, "latest"), "the registry holds the image under every tag after the retries");
        Assert.AreEqual(layout.ManifestDigest, Digest(registry, "1.0"));
        Assert.AreEqual(4, pushed.BlobsUploaded);

        TimeSpan waited = GapAfter(proxy, s => s.Status == 429);
        Assert.IsTrue(waited >= TimeSpan.FromMilliseconds(900), $"Retry-After: 1 was honoured, not the 10 ms backoff: {waited}");
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(15), clock.Elapsed.ToString());

        // Bounded: no request was sent more than the client's attempts, and each blob went up in at most three sessions.
        var seen = proxy.Seen.ToList();
        var byRequest = seen.GroupBy(s => (s.Method, s.PathAndQuery)).Where(g => g.Key.Method is "HEAD" || g.Key.PathAndQuery.Contains("/manifests/", StringComparison.Ordinal)).ToList();
        Assert.IsTrue(byRequest.All(g => g.Count() <= 4), string.Join("\n", byRequest.Select(g => $"{g.Count()} x {g.Key}")));
        Assert.IsTrue(seen.Count(s => s.Method == "POST") <= 4 * 3, "at most three upload sessions per blob: " + seen.Count(s => s.Method == "POST"));
        Assert.AreEqual(5, seen.Count(s => s.Method == "PUT" && s.PathAndQuery.Contains("/blobs/uploads/", StringComparison.Ordinal) && s.Status == 503), "each blob's refused PUT, the chunked one's twice, was answered by a new upload");
    }

    [TestMethod]
    public void ARetryAfterGivenAsADateIsHonouredAndOneTooFarAwayIsNotWaitedFor()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        ImageResult layout = RegistryPushTests.WriteLayout(dir, image);
        int heads = 0;
        using var proxy = new RegistryProxy(registry.Host, r =>
        {
            if (r.Method != "HEAD" || !r.Path.Contains("/manifests/", StringComparison.Ordinal) || heads++ >= 2)
            {
                return null;
            }

            // An HTTP date (second resolution): 2 s from now is at least 1 s of waiting. Then one an hour away, which a build does not sit out.
            string when = heads == 1 ? DateTimeOffset.UtcNow.AddSeconds(2).ToString("r", CultureInfo.InvariantCulture) : "3600";
            return ProxyAnswer.Error(503, "UNAVAILABLE", "maintenance", ("Retry-After", when));
        });

        var clock = System.Diagnostics.Stopwatch.StartNew();
        PushResult pushed = Push(proxy.Host, image, "latest");
        Assert.AreEqual(layout.ManifestDigest, pushed.ManifestDigest);
        TimeSpan dated = GapAfter(proxy, s => s.Status == 503);
        Assert.IsTrue(dated >= TimeSpan.FromMilliseconds(900), $"Retry-After as an HTTP date was honoured: {dated}");
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(10), $"Retry-After: 3600 is not sat out: {clock.Elapsed}");
    }

    [TestMethod]
    public void APermanent503IsOCIB1419AfterFourAttemptsAndMovesNoTag()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        ImageResult first = RegistryPushTests.WriteLayout(dir, image);
        Push(registry.Host, image, "latest");
        string image2 = dir.Combine("img2");
        RegistryPushTests.WriteLayout(dir, image2, "app v2");

        // Every request: 503.
        using (var down = new RegistryProxy(registry.Host, _ => ProxyAnswer.Error(503, "UNAVAILABLE", "down for maintenance")))
        {
            OciBundleException e = Fails(() => Push(down.Host, image2, "latest"));
            Assert.AreEqual("OCIB1419", e.Code, e.Message);
            StringAssert.Contains(e.Message, "503");
            StringAssert.Contains(e.Message, "after 4 attempts");
            StringAssert.Contains(e.Message, "Publish again later");
            Assert.AreEqual(4, down.Seen.Count, "four attempts, then the coded error: " + string.Join("\n", down.Seen));
        }

        // Only the blob uploads fail, every time: each blob's upload is started afresh a bounded number of times.
        using (var uploads = new RegistryProxy(registry.Host, r => IsBlobPut(r) ? ProxyAnswer.Error(500, "UNKNOWN", "storage failure") : null))
        {
            OciBundleException e = Fails(() => Push(uploads.Host, image2, "latest"));
            Assert.AreEqual("OCIB1419", e.Code, e.Message);
            StringAssert.Contains(e.Message, "500");
            StringAssert.Contains(e.Message, "after 3 attempts");
            var puts = uploads.Seen.Where(s => s.Method == "PUT").ToList();
            Assert.IsTrue(puts.Count > 0 && puts.GroupBy(s => s.PathAndQuery.Split("digest=")[1]).All(g => g.Count() <= 3), string.Join("\n", puts));
            Assert.IsFalse(uploads.Seen.Any(s => s.PathAndQuery.Contains("/manifests/", StringComparison.Ordinal) && s.Method == "PUT"), "no manifest went up");
        }

        Assert.AreEqual(first.ManifestDigest, Digest(registry, "latest"), "the tag still names the image it named");
    }
}
