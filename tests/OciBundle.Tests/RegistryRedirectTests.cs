using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Diagnostics;
using OciBundle.Images;
using OciBundle.Registries;
using OciBundle.Request;
using OciBundle.Testing;
using static OciBundle.Tests.RegistryHostileTests;

namespace OciBundle.Tests;

/// <summary>
/// Issue 24 item 6, over real sockets: proxies on loopback (<see cref="RegistryProxy"/>) in front of a real
/// docker-registry redirect uploads (307, 308) to an upload host on another port or another host, answer relative
/// Locations from there, or loop; the push follows with the body sent again, credentials only to the registry, and
/// stops a loop with a coded error; never a .NET-internal message.
/// </summary>
[TestClass]
public sealed class RegistryRedirectTests
{
    private const string User = "pusher";
    private const string Password = "Redirect-Pa55word";
    private static readonly Func<int, TimeSpan> Quick = _ => TimeSpan.FromMilliseconds(10);

    private static PushSpec Spec(string host, string image) =>
        PushSpec.Parse(new PushOptions { ImageDirectory = image, Registry = host, Repository = "team/app", Tags = { "latest" }, InsecureRegistries = { host } }, _ => null);

    private static PushResult Push(string host, string image, List<string>? log = null, Func<string, string?>? environment = null, HttpMessageHandler? handler = null) =>
        ImagePusher.Push(Spec(host, image), environment ?? (_ => null), m => log?.Add(m), _ => { }, handler: handler, chunkSize: 64 * 1024, backoff: Quick);

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

    private static bool IsUpload(ProxiedRequest r) => r.Method is "PATCH" or "PUT" && r.Path.Contains("/blobs/uploads/", StringComparison.Ordinal);

    /// <summary>A proxy that records what reached it (method, path and query, body length, Authorization) and passes everything on.</summary>
    private static RegistryProxy Recording(string upstream, ConcurrentQueue<(string Method, string PathAndQuery, int Length, string? Authorization)> seen, string address = "127.0.0.1", string? upstreamAuthorization = null) =>
        new(upstream, r =>
        {
            seen.Enqueue((r.Method, r.PathAndQuery, r.Body.Length, r.Authorization));
            return null;
        }, address)
        { UpstreamAuthorization = upstreamAuthorization };

    [TestMethod]
    public void A307OnAPatchIsFollowedToAnUploadHostOnAnotherPortWithTheChunkSentAgain()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        ImageResult layout = RegistryPushTests.WriteLayout(dir, image);
        var atUpload = new ConcurrentQueue<(string Method, string PathAndQuery, int Length, string? Authorization)>();
        using RegistryProxy upload = Recording(registry.Host, atUpload);
        using var front = new RegistryProxy(registry.Host, r => r.Method == "PATCH" ? new ProxyAnswer(307, "", ("Location", $"http://{upload.Host}{r.PathAndQuery}")) : null);

        var log = new List<string>();
        PushResult pushed = Push(front.Host, image, log);
        Assert.AreEqual(layout.ManifestDigest, pushed.ManifestDigest);
        Assert.IsTrue(front.Seen.Any(s => s.Method == "PATCH" && s.Status == 307), "the registry redirected the first chunk");
        var patches = atUpload.Where(s => s.Method == "PATCH").ToList();
        Assert.IsTrue(patches.Count >= 5, "the 300 KB layer's chunks went to the upload host: " + string.Join(", ", patches.Select(p => p.Length)));
        Assert.AreEqual(64 * 1024, patches[0].Length, "the redirected chunk was sent again whole");
        Assert.AreEqual(1, front.Seen.Count(s => s.Method == "PATCH"), "after the redirect the session goes on where the upload host's Location says");
        StringAssert.Contains(string.Join("\n", log), $"307, sent again to http://{upload.Host}/v2/team/app/blobs/uploads/");
        RegistryPull.AssertPullable(registry.Host, "team/app", "latest", layout.ManifestDigest);
    }

    [TestMethod]
    public void A308OnBlobPutsAndA307OnTheManifestPutAreFollowedWithTheBodySentAgain()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        ImageResult layout = RegistryPushTests.WriteLayout(dir, image);
        var atUpload = new ConcurrentQueue<(string Method, string PathAndQuery, int Length, string? Authorization)>();
        using RegistryProxy upload = Recording(registry.Host, atUpload);
        using var front = new RegistryProxy(registry.Host, r =>
            IsUpload(r) && r.Method == "PUT" ? new ProxyAnswer(308, "", ("Location", $"http://{upload.Host}{r.PathAndQuery}"))
            : r.Method == "PUT" && r.Path.Contains("/manifests/", StringComparison.Ordinal) ? new ProxyAnswer(307, "", ("Location", $"http://{upload.Host}{r.PathAndQuery}"))
            : null);

        PushResult pushed = Push(front.Host, image);
        Assert.AreEqual(layout.ManifestDigest, pushed.ManifestDigest);
        Assert.AreEqual(4, pushed.BlobsUploaded);
        var puts = atUpload.Where(s => s.Method == "PUT" && s.PathAndQuery.Contains("/blobs/uploads/", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(4, puts.Count, "every blob's PUT went to where the 308 said");
        var small = ImageLayout.Read(image).Blobs.Where(b => b.Size <= 64 * 1024).ToList();
        CollectionAssert.AreEquivalent(small.Select(b => (int)b.Size).Append(0).ToArray(), puts.Select(p => p.Length).ToArray(), "each monolithic PUT carried its whole blob again; the chunked one's final PUT nothing");
        var manifest = atUpload.Single(s => s.Method == "PUT" && s.PathAndQuery.EndsWith("/manifests/latest", StringComparison.Ordinal));
        Assert.AreEqual(ImageLayout.Read(image).Top.Content.Length, manifest.Length, "the manifest was sent again whole");
        RegistryPull.AssertPullable(registry.Host, "team/app", "latest", layout.ManifestDigest);
    }

    [TestMethod]
    public void ARelativeLocationFromAnUploadHostOnAnotherPortIsResolvedAgainstThatHost()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        ImageResult layout = RegistryPushTests.WriteLayout(dir, image);

        // The upload host answers Locations relative to the URL asked ("<uuid>?_state=..."), as RFC 3986 allows.
        var atUpload = new ConcurrentQueue<(string Method, string PathAndQuery, int Length, string? Authorization)>();
        using var upload = new RegistryProxy(registry.Host, r =>
        {
            atUpload.Enqueue((r.Method, r.PathAndQuery, r.Body.Length, r.Authorization));
            return null;
        })
        {
            RewriteLocation = (_, location) => location.Contains("/blobs/uploads/", StringComparison.Ordinal) ? location[(location.LastIndexOf('/') + 1)..] : location,
        };

        // The registry hands uploads to the upload host, and knows no upload session itself.
        using var front = new RegistryProxy(registry.Host, r => IsUpload(r) ? ProxyAnswer.Error(404, "BLOB_UPLOAD_UNKNOWN", "uploads go to the upload host") : null) { Advertise = upload.Host };

        PushResult pushed = Push(front.Host, image);
        Assert.AreEqual(layout.ManifestDigest, pushed.ManifestDigest);
        Assert.IsFalse(front.Seen.Any(s => s.Method is "PATCH" || (s.Method == "PUT" && s.PathAndQuery.Contains("/blobs/uploads/", StringComparison.Ordinal))), "no part of an upload went to the registry: " + string.Join("\n", front.Seen));
        Assert.IsTrue(atUpload.Count(s => s.Method == "PATCH") >= 5, "the chunks went to the upload host, each at the Location the last one answered");
        Assert.IsTrue(upload.Seen.All(s => s.Status is 202 or 201), string.Join("\n", upload.Seen));
        RegistryPull.AssertPullable(registry.Host, "team/app", "latest", layout.ManifestDigest);
    }

    [TestMethod]
    public void ARedirectToAnotherHostGetsNoCredentialsWhileTheRegistryKeepsThem()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry(htpasswd: $"{User}:{Password}");
        string image = dir.Combine("img");
        ImageResult layout = RegistryPushTests.WriteLayout(dir, image);
        string basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}"));

        // Blob storage on another host (127.0.0.2), which has its own way into the registry's storage.
        var atStorage = new ConcurrentQueue<(string Method, string PathAndQuery, int Length, string? Authorization)>();
        using RegistryProxy storage = Recording(registry.Host, atStorage, "127.0.0.2", "Basic " + basic);
        var atRegistry = new ConcurrentQueue<(string Method, string PathAndQuery, int Length, string? Authorization)>();
        using var front = new RegistryProxy(registry.Host, r =>
        {
            atRegistry.Enqueue((r.Method, r.PathAndQuery, r.Body.Length, r.Authorization));
            return IsUpload(r) ? new ProxyAnswer(307, "", ("Location", $"http://{storage.Host}{r.PathAndQuery}")) : null;
        });

        var log = new List<string>();
        PushResult pushed = Push(front.Host, image, log, key => key switch
        {
            CredentialLookup.UsernameVariable => User,
            CredentialLookup.PasswordVariable => Password,
            "HOME" => "/nonexistent",
            _ => null,
        });
        Assert.AreEqual(layout.ManifestDigest, pushed.ManifestDigest);
        Assert.IsTrue(atStorage.Count(s => s.Method is "PATCH" or "PUT") >= 4, "the uploads went to the storage host");
        Assert.IsTrue(atStorage.All(s => s.Authorization is null), "no credentials to another host: " + string.Join(", ", atStorage.Select(s => s.Authorization)));
        Assert.IsTrue(atRegistry.Any(s => s.Method == "PUT" && s.PathAndQuery.Contains("/manifests/", StringComparison.Ordinal) && s.Authorization == "Basic " + basic), "the registry itself still gets them");
        StringAssert.Contains(string.Join("\n", log), "which gets no credentials");
        Assert.IsFalse(string.Join("\n", log).Contains(Password, StringComparison.Ordinal) || string.Join("\n", log).Contains(basic, StringComparison.Ordinal), "no secret in the log");
        RegistryPull.AssertPullable(registry.Host, "team/app", "latest", layout.ManifestDigest, basic);
    }

    [TestMethod]
    public void ARedirectLoopIsOCIB1425AfterTenHopsAndMovesNoTag()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        RegistryPushTests.WriteLayout(dir, image);

        // Every upload request is sent back to where it came from, by a relative Location.
        using var looping = new RegistryProxy(registry.Host, r => IsUpload(r) ? new ProxyAnswer(307, "", ("Location", r.PathAndQuery)) : null);
        OciBundleException e = Fails(() => Push(looping.Host, image));
        Assert.AreEqual("OCIB1425", e.Code, e.Message);
        StringAssert.Contains(e.Message, "more than 10 times");
        StringAssert.Contains(e.Message, looping.Host);
        StringAssert.Contains(e.Message, "team/app");
        Assert.IsFalse(e.Message.Contains("consumed", StringComparison.Ordinal), e.Message);
        var perSession = looping.Seen.Where(s => s.Status == 307).GroupBy(s => s.PathAndQuery).ToList();
        // The first blob to reach the limit stops the push; the others, uploading beside it, are canceled on their way.
        Assert.IsTrue(perSession.Any(g => g.Count() == RegistryRedirect.MaxRedirects + 1) && perSession.All(g => g.Count() <= RegistryRedirect.MaxRedirects + 1), "a request followed 10 times, then stopped, none more: " + string.Join(", ", perSession.Select(g => g.Count())));
        Assert.IsNull(RegistryPull.TagDigest(registry.Host, "team/app", "latest"), "no tag");
    }

    [TestMethod]
    [DataRow(302, "https://registry.test/v2/team/app/blobs/uploads/u2", "OCIB1425", "would turn the PUT into a GET", DisplayName = "302 on a PUT")]
    [DataRow(303, "https://registry.test/v2/team/app/blobs/uploads/u2", "OCIB1425", "would turn the PUT into a GET", DisplayName = "303 on a PUT")]
    [DataRow(307, "", "OCIB1425", "no Location", DisplayName = "307 without a Location")]
    [DataRow(307, "http://registry.test/v2/team/app/blobs/uploads/u2", "OCIB1424", "downgrade", DisplayName = "307 from TLS to plain http")]
    [DataRow(308, "file:///etc/passwd", "OCIB1424", "file:", DisplayName = "308 to a file: address")]
    public void ARedirectThePushDoesNotFollowIsACodedErrorAndNothingGoesThere(int status, string location, string code, string why)
    {
        using var dir = new TempDirectory();
        string image = dir.Combine("img");
        RegistryPushTests.WriteLayout(dir, image);
        var fake = new FakeRegistry(r => r.RequestUri!.AbsolutePath switch
        {
            _ when r.Method == HttpMethod.Head => Answer(HttpStatusCode.NotFound),
            _ when r.Method == HttpMethod.Post => Answer(HttpStatusCode.Accepted, "", ("Location", "/v2/team/app/blobs/uploads/u")),
            "/v2/team/app/blobs/uploads/u" => location.Length > 0 ? Answer((HttpStatusCode)status, "", ("Location", location)) : Answer((HttpStatusCode)status),
            _ => Answer(HttpStatusCode.InternalServerError),
        });
        var spec = PushSpec.Parse(new PushOptions { ImageDirectory = image, Registry = "registry.test", Repository = "team/app", Tags = { "latest" } }, _ => null);
        OciBundleException e = Fails(() => ImagePusher.Push(spec, _ => null, _ => { }, _ => { }, handler: fake, chunkSize: 1 << 20, backoff: Quick));
        Assert.AreEqual(code, e.Code, e.Message);
        StringAssert.Contains(e.Message, why);
        Assert.IsTrue(fake.Seen.All(s => s.Uri.Host == "registry.test" && s.Uri.Scheme == "https" && s.Uri.AbsolutePath != "/v2/team/app/blobs/uploads/u2"), "nothing went to the redirect's target: " + string.Join(", ", fake.Seen.Select(s => s.Uri)));
        Assert.IsFalse(fake.Seen.Any(s => s.Method == "PUT" && s.Uri.AbsolutePath.Contains("/manifests/", StringComparison.Ordinal)), "no tag moved");
    }

    [TestMethod]
    public void ATokenRealmsRedirectIsFollowedWithoutTheCredentialsAndARefreshTokensPostIsNot()
    {
        using var dir = new TempDirectory();
        string image = dir.Combine("img");
        RegistryPushTests.WriteLayout(dir, image);
        var fake = new FakeRegistry(r =>
        {
            string path = r.RequestUri!.AbsolutePath;
            if (r.RequestUri.Host == "auth.test")
            {
                return Answer(HttpStatusCode.OK, "{\"token\":\"TOKEN-AFTER-REDIRECT\",\"expires_in\":300}");
            }

            if (path == "/token")
            {
                return Answer(HttpStatusCode.TemporaryRedirect, "", ("Location", "https://auth.test/token2" + r.RequestUri.Query));
            }

            if (r.Headers.Authorization?.ToString() != "Bearer TOKEN-AFTER-REDIRECT")
            {
                return Answer(HttpStatusCode.Unauthorized, "", ("WWW-Authenticate", "Bearer realm=\"https://registry.test/token\",service=\"s\""));
            }

            return r.Method.Method switch
            {
                "HEAD" => Answer(HttpStatusCode.NotFound),
                "POST" or "PATCH" => Answer(HttpStatusCode.Accepted, "", ("Location", "/v2/team/app/blobs/uploads/u")),
                _ => Answer(HttpStatusCode.Created),
            };
        });
        var spec = PushSpec.Parse(new PushOptions { ImageDirectory = image, Registry = "registry.test", Repository = "team/app", Tags = { "latest" } }, _ => null);
        Func<string, string?> credentials = key => key switch { CredentialLookup.UsernameVariable => User, CredentialLookup.PasswordVariable => Password, "HOME" => "/nonexistent", _ => null };
        PushResult pushed = ImagePusher.Push(spec, credentials, _ => { }, _ => { }, handler: fake, chunkSize: 1 << 20, backoff: Quick);
        Assert.IsFalse(pushed.UpToDate);
        var atAuth = fake.Seen.Where(s => s.Uri.Host == "auth.test").ToList();
        Assert.IsTrue(atAuth.Count > 0, "the token came from where the realm redirected");
        Assert.IsTrue(atAuth.All(s => s.Authorization is null && s.Method == "GET"), "without the credentials");
        Assert.IsTrue(fake.Seen.Any(s => s.Uri.AbsolutePath == "/token" && s.Authorization is not null), "the realm itself got them");

        // An identity token goes in a POST's body: a redirect of that POST is not followed, and is a coded error.
        string config = dir.Combine("docker");
        Directory.CreateDirectory(config);
        File.WriteAllText(Path.Combine(config, "config.json"), "{\"auths\":{\"registry.test\":{\"auth\":\"" + Convert.ToBase64String(Encoding.UTF8.GetBytes("00000000-0000-0000-0000-000000000000:")) + "\",\"identitytoken\":\"REFRESH-SECRET\"}}}");
        var oauth = new FakeRegistry(r => r.RequestUri!.AbsolutePath == "/token"
            ? Answer(HttpStatusCode.TemporaryRedirect, "", ("Location", "https://auth.test/token2"))
            : r.RequestUri.Host == "auth.test" ? Answer(HttpStatusCode.OK, "{\"access_token\":\"T\"}")
            : Answer(HttpStatusCode.Unauthorized, "", ("WWW-Authenticate", "Bearer realm=\"https://registry.test/token\",service=\"s\"")));
        OciBundleException e = Fails(() => ImagePusher.Push(spec, key => key == "DOCKER_CONFIG" ? config : null, _ => { }, _ => { }, handler: oauth, chunkSize: 1 << 20, backoff: Quick));
        Assert.AreEqual("OCIB1422", e.Code, e.Message);
        StringAssert.Contains(e.Message, "307");
        Assert.IsFalse(oauth.Seen.Any(s => s.Uri.Host == "auth.test"), "the refresh token went nowhere else");
        Assert.IsFalse(e.Message.Contains("REFRESH-SECRET", StringComparison.Ordinal));
    }
}
