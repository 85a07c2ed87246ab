using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Images;
using OciBundle.Registries;
using OciBundle.Request;
using OciBundle.Rootfs;
using OciBundle.Testing;
using OciBundle.Model;

namespace OciBundle.Tests;

/// <summary>Issue 14: the engine's push against a real registry (Debian's docker-registry, distribution 2.8) on loopback.</summary>
[TestClass]
public sealed class RegistryPushTests
{
    private const string User = "pusher";
    private const string Password = "s3cret-Pa55word";

    /// <summary>A layout of four blobs (config, three layers), the runtime layer over the small chunk size the tests push with.</summary>
    internal static ImageResult WriteLayout(TempDirectory dir, string image, string app = "app v1", string architecture = "amd64")
    {
        string src = dir.Combine("src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "App.dll"), app);
        if (!File.Exists(Path.Combine(src, "System.Private.CoreLib.dll")))
        {
            File.WriteAllBytes(Path.Combine(src, "System.Private.CoreLib.dll"), RandomNumberGenerator.GetBytes(300_000)); // incompressible: chunked
        }

        var plan = new RootfsPlan();
        HostTree.Add(plan, src, "/app", "publish output");
        plan.AddContent("/etc/passwd", "root:x:0:0::/root:/sbin/nologin\n"u8.ToArray(), (UnixFileMode)420, "accounts");
        return ImageLayoutWriter.Write(plan, new ImageRequest
        {
            Directory = image,
            Tag = "latest",
            Name = "localhost/app:latest",
            ArchivePath = null,
            Architecture = architecture,
            WorkingDirectory = "/app",
            User = "1654:1654",
            Entrypoint = new[] { "/app/App" },
            Environment = new[] { new KeyValuePair<string, string>("PATH", "/usr/bin") },
            RuntimeFiles = new HashSet<string> { "/app/System.Private.CoreLib.dll" },
            Labels = new Dictionary<string, string>(),
            ExposedPorts = Array.Empty<string>(),
            Epoch = 1700000000,
        });
    }

    private static PushSpec Spec(TestRegistry registry, string image, string repository = "team/app", string tags = "latest;1.0", bool insecure = true, string? record = null) =>
        PushSpec.Parse(new PushOptions
        {
            ImageDirectory = image,
            Registry = registry.Host,
            Repository = repository,
            Tags = tags.Split(';').ToList(),
            InsecureRegistries = insecure ? new List<string> { "registry.lan", registry.Host } : new List<string>(),
            RecordFile = record,
        }, _ => null);

    /// <summary>A handler that trusts the test CA (the product trusts the system store and SSL_CERT_FILE, which the end-to-end test uses).</summary>
    private static SocketsHttpHandler Trusting(string caPath)
    {
        X509Certificate2 ca = X509Certificate2.CreateFromPem(File.ReadAllText(caPath));
        return new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) =>
                {
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return cert is not null && chain.Build(new X509Certificate2(cert));
                },
            },
        };
    }

    private static Func<string, string?> Env(params (string Key, string Value)[] values)
    {
        var map = values.ToDictionary(v => v.Key, v => v.Value);
        return key => map.TryGetValue(key, out string? v) ? v : key == "PATH" ? Environment.GetEnvironmentVariable("PATH") : null;
    }

    private static string? RegistryDigest(TestRegistry registry, string repository, string tag, HttpMessageHandler? handler = null)
    {
        using var http = new HttpClient(handler ?? new HttpClientHandler());
        var request = new HttpRequestMessage(HttpMethod.Head, $"{(registry.Tls ? "https" : "http")}://{registry.Host}/v2/{repository}/manifests/{tag}");
        request.Headers.Accept.ParseAdd(Model.Oci.OciMediaTypes.ImageManifest);
        using HttpResponseMessage response = http.Send(request);
        return response.IsSuccessStatusCode ? response.Headers.GetValues("Docker-Content-Digest").Single() : null;
    }

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

    [TestMethod]
    public void APlainHttpPushHoldsTheLayoutsDigestAndASecondPushUploadsNothing()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        ImageResult layout = WriteLayout(dir, image);

        var progress = new List<string>();
        PushResult first = ImagePusher.Push(Spec(registry, image), Env(), _ => { }, progress.Add, chunkSize: 64 * 1024);
        Assert.AreEqual(layout.ManifestDigest, first.ManifestDigest);
        Assert.AreEqual(4, first.BlobsUploaded);
        Assert.AreEqual(layout.ManifestDigest, RegistryDigest(registry, "team/app", "latest"), "the registry holds the layout's digest");
        Assert.AreEqual(layout.ManifestDigest, RegistryDigest(registry, "team/app", "1.0"), "under every tag");
        Assert.IsTrue(registry.Requests().Count(r => r.Method == "PATCH") >= 4, "the 300 KB layer went up in 64 KB chunks");
        if (TestEnvironment.Which("skopeo") is not null)
        {
            ProcessResult inspect = TestEnvironment.RunCapture("skopeo", "inspect", "--tls-verify=false", $"docker://{registry.Host}/team/app:latest");
            Assert.AreEqual(0, inspect.ExitCode, inspect.All);
            Assert.AreEqual(layout.ManifestDigest, (string)JObject.Parse(inspect.Output)["Digest"]!);
        }

        // Unchanged: one HEAD per tag, nothing written.
        int before = registry.SettledRequests().Count;
        int writes = registry.BlobWrites();
        PushResult again = ImagePusher.Push(Spec(registry, image), Env(), _ => { }, _ => { }, chunkSize: 64 * 1024);
        Assert.IsTrue(again.UpToDate);
        Assert.AreEqual(writes, registry.BlobWrites(), "no upload");
        Assert.AreEqual(2, registry.SettledRequests().Count - before, "one HEAD of the manifest per tag");

        // An app change: only the app layer and the config go up; the others are found with HEAD.
        ImageResult changed = WriteLayout(dir, dir.Combine("img2"), "app v2");
        PushResult third = ImagePusher.Push(Spec(registry, dir.Combine("img2")), Env(), _ => { }, _ => { }, chunkSize: 64 * 1024);
        Assert.AreEqual(2, third.BlobsUploaded, "app layer and config");
        Assert.AreEqual(2, third.BlobsPresent);
        Assert.AreEqual(changed.ManifestDigest, RegistryDigest(registry, "team/app", "latest"));
    }

    [TestMethod]
    public void AnImageIndexOfTwoArchitecturesIsWrittenWithPlatformsAndPushedManifestsFirst()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        ImageResult amd64 = WriteLayout(dir, dir.Combine("amd64"));
        ImageResult arm64 = WriteLayout(dir, dir.Combine("arm64"), architecture: "arm64");
        string layout = dir.Combine("index");
        string digest = ImageIndexWriter.Write(new ImageIndexRequest { Directory = layout, Sources = new[] { dir.Combine("amd64"), dir.Combine("arm64") }, Tag = "latest", Name = $"{registry.Host}/team/app:latest" });

        JObject top = JObject.Parse(File.ReadAllText(Path.Combine(layout, "index.json")));
        Assert.AreEqual(digest, (string)top["manifests"]![0]!["digest"]!);
        Assert.AreEqual($"{registry.Host}/team/app:latest", (string)top["manifests"]![0]!["annotations"]!["io.containerd.image.name"]!);
        JObject index = JObject.Parse(File.ReadAllText(Path.Combine(layout, "blobs", "sha256", digest[7..])));
        CollectionAssert.AreEqual(new[] { amd64.ManifestDigest, arm64.ManifestDigest }, index["manifests"]!.Select(m => (string)m["digest"]!).ToArray(), "each manifest as its own layout has it");
        Assert.AreEqual("{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}", index["manifests"]![1]!["platform"]!.ToString(Newtonsoft.Json.Formatting.None));
        Assert.IsNull(index["manifests"]![0]!["platform"]!["variant"], "amd64 has no variant");

        PushResult pushed = ImagePusher.Push(Spec(registry, layout, tags: "latest"), Env(), _ => { }, _ => { });
        Assert.AreEqual(digest, pushed.ManifestDigest);
        Assert.AreEqual(5, pushed.BlobsUploaded + pushed.BlobsPresent, "two configs and the three layers, which are the same files for both here: each blob once");
        using var http = new HttpClient();
        var head = new HttpRequestMessage(HttpMethod.Head, $"http://{registry.Host}/v2/team/app/manifests/latest");
        head.Headers.Accept.ParseAdd(Model.Oci.OciMediaTypes.ImageIndex);
        Assert.AreEqual(digest, http.Send(head).Headers.GetValues("Docker-Content-Digest").Single());
        Assert.AreEqual(arm64.ManifestDigest, RegistryDigest(registry, "team/app", arm64.ManifestDigest), "the arm64 manifest is there by digest");
        List<string> puts = registry.Requests().Where(r => r.Method == "PUT" && r.Path.Contains("/manifests/", StringComparison.Ordinal)).Select(r => r.Path).ToList();
        StringAssert.EndsWith(puts.Last(), "/manifests/latest", "the tag goes last");

        // The same architecture twice is a mistake, coded.
        Assert.AreEqual("OCIB1405", Fails(() => ImageIndexWriter.Write(new ImageIndexRequest { Directory = dir.Combine("index2"), Sources = new[] { dir.Combine("amd64"), dir.Combine("amd64") }, Tag = "latest", Name = "localhost/app:latest" })).Code);
    }

    [TestMethod]
    public void ABlobInAnotherRepositoryOfTheRegistryIsMountedNotUploaded()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        WriteLayout(dir, image);
        string record = dir.Combine("obj", "pushed.json");
        ImagePusher.Push(Spec(registry, image, "team/app", record: record), Env(), _ => { }, _ => { });
        Assert.IsFalse(File.ReadAllText(record).Contains(Password, StringComparison.Ordinal));

        int writes = registry.Requests().Count(r => r.Method is "PATCH" || (r.Method == "PUT" && r.Path.Contains("/blobs/uploads/", StringComparison.Ordinal)));
        PushResult other = ImagePusher.Push(Spec(registry, image, "team/app-staging", record: record), Env(), _ => { }, _ => { });
        Assert.AreEqual(4, other.BlobsMounted);
        Assert.AreEqual(0, other.BlobsUploaded);
        Assert.AreEqual(writes, registry.Requests().Count(r => r.Method is "PATCH" || (r.Method == "PUT" && r.Path.Contains("/blobs/uploads/", StringComparison.Ordinal))), "no bytes sent again");
        Assert.IsTrue(registry.Requests().Any(r => r.Method == "POST" && r.Path.Contains("mount=", StringComparison.Ordinal) && r.Status == 201));
    }

    /// <summary>
    /// The registry (the real one, by its pid) is killed at a chosen point of a push, through a proxy that knows when
    /// each request arrives: once the first blob's final PUT is answered, or while the chunks of the large layer are
    /// going up, halfway through the body of its second PATCH. It restarts on the same storage; no tag points at a
    /// partial image, and the next push completes (a blob whose write the kill cut off may answer HEAD with 500 for
    /// good: it is uploaded again) with an image a client can pull whole.
    /// </summary>
    [TestMethod]
    [DataRow("after the first blob's final PUT")]
    [DataRow("in the middle of a PATCH")]
    public void APushCutOffHalfwayLeavesNoTagAndTheNextOneCompletes(string point)
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string image = dir.Combine("img");
        ImageResult layout = WriteLayout(dir, image);
        int killed = 0, patches = 0;
        using var stopped = new ManualResetEventSlim();
        void Kill()
        {
            if (Interlocked.Exchange(ref killed, 1) == 0)
            {
                registry.Stop();
                stopped.Set();
            }
        }

        using (var proxy = new RegistryProxy(registry.Host, _ => null)
        {
            Answered = (r, status) =>
            {
                if (point.StartsWith("after", StringComparison.Ordinal) && r.Method == "PUT" && r.Path.Contains("/blobs/uploads/", StringComparison.Ordinal) && status == 201)
                {
                    Kill();
                }
            },
            Halfway = r =>
            {
                if (point.StartsWith("in the middle", StringComparison.Ordinal) && r.Method == "PATCH" && Interlocked.Increment(ref patches) == 2)
                {
                    Kill();
                }
            },
        })
        {
            OciBundleException e = Fails(() => ImagePusher.Push(Spec(registry, image) with { Registry = proxy.Host }, Env(), _ => { }, _ => { }, chunkSize: 64 * 1024, backoff: _ => TimeSpan.FromMilliseconds(10)));
            // The push may give up while the proxy's thread still waits for the registry to exit: restart only after.
            Assert.IsTrue(stopped.Wait(TimeSpan.FromSeconds(30)), "the registry was killed at the chosen point");
            // Unreachable (OCIB1418), or a dropped connection that keeps failing through the retries (OCIB1419).
            CollectionAssert.Contains(new[] { "OCIB1418", "OCIB1419" }, e.Code, e.Message);
            StringAssert.Contains(e.Message, proxy.Host);
            StringAssert.Contains(e.Message, "team/app");
        }

        registry.Start();
        Assert.IsNull(RegistryDigest(registry, "team/app", "latest"), "no tag points at a partial image");
        var log = new List<string>();
        PushResult rerun = ImagePusher.Push(Spec(registry, image), Env(), log.Add, _ => { }, chunkSize: 64 * 1024);
        Assert.AreEqual(4, rerun.BlobsPresent + rerun.BlobsUploaded, string.Join("\n", log));
        if (point.StartsWith("after", StringComparison.Ordinal))
        {
            Assert.IsTrue(rerun.BlobsPresent >= 1, "the blob that went up before the kill is not sent again");
        }

        Assert.AreEqual(layout.ManifestDigest, RegistryDigest(registry, "team/app", "latest"));
        RegistryPull.AssertPullable(registry.Host, "team/app", "latest", layout.ManifestDigest);
    }

    [TestMethod]
    public void TlsNeedsTrustAndAPlainRegistryNotListedAsInsecureIsATlsError()
    {
        using var dir = new TempDirectory();
        string image = dir.Combine("img");
        WriteLayout(dir, image);
        using (var tls = new TestRegistry(tls: true))
        {
            OciBundleException untrusted = Fails(() => ImagePusher.Push(Spec(tls, image, insecure: false), Env(), _ => { }, _ => { }));
            Assert.AreEqual("OCIB1417", untrusted.Code, untrusted.Message);
            StringAssert.Contains(untrusted.Message, "SSL_CERT_FILE");
        }

        using var plain = new TestRegistry();
        OciBundleException e = Fails(() => ImagePusher.Push(Spec(plain, image, insecure: false), Env(), _ => { }, _ => { }));
        Assert.AreEqual("OCIB1417", e.Code, e.Message);
        StringAssert.Contains(e.Message, "OciImageInsecureRegistries");

        int port = TestRegistry.FreePort();
        PushSpec nowhere = PushSpec.Parse(new PushOptions { ImageDirectory = image, Registry = $"127.0.0.1:{port}", Repository = "app", Tags = { "latest" }, InsecureRegistries = { $"127.0.0.1:{port}" } }, _ => null);
        OciBundleException unreachable = Fails(() => ImagePusher.Push(nowhere, Env(), _ => { }, _ => { }));
        Assert.AreEqual("OCIB1418", unreachable.Code, unreachable.Message);
    }

    [TestMethod]
    public void BasicAuthOverTlsTakesCredentialsFromConfigJsonAndFromAHelper()
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry(tls: true, htpasswd: $"{User}:{Password}");
        string image = dir.Combine("img");
        ImageResult layout = WriteLayout(dir, image);
        string config = dir.Combine("docker");
        Directory.CreateDirectory(config);
        string Auth(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        var logged = new List<string>();

        // auths in $DOCKER_CONFIG/config.json.
        File.WriteAllText(Path.Combine(config, "config.json"), new JObject { ["auths"] = new JObject { ["https://" + registry.Host] = new JObject { ["auth"] = Auth(User, Password) } } }.ToString());
        PushResult pushed = ImagePusher.Push(Spec(registry, image, insecure: false), Env(("DOCKER_CONFIG", config)), logged.Add, logged.Add, handler: Trusting(registry.CaPath!));
        Assert.AreEqual(layout.ManifestDigest, RegistryDigest(registry, "team/app", "latest", new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true, Credentials = new NetworkCredential(User, Password) }), "the registry holds the layout's digest");
        Assert.AreEqual(layout.ManifestDigest, pushed.ManifestDigest);

        // A wrong password: OCIB1410, naming the file, never the secret.
        File.WriteAllText(Path.Combine(config, "config.json"), new JObject { ["auths"] = new JObject { [registry.Host] = new JObject { ["auth"] = Auth(User, "wrong-" + Password) } } }.ToString());
        OciBundleException refused = Fails(() => ImagePusher.Push(Spec(registry, image, "team/other", insecure: false), Env(("DOCKER_CONFIG", config)), logged.Add, logged.Add, handler: Trusting(registry.CaPath!)));
        Assert.AreEqual("OCIB1410", refused.Code, refused.Message);
        StringAssert.Contains(refused.Message, Path.Combine(config, "config.json"));

        // None at all: OCIB1411.
        File.WriteAllText(Path.Combine(config, "config.json"), "{}");
        OciBundleException none = Fails(() => ImagePusher.Push(Spec(registry, image, "team/other", insecure: false), Env(("DOCKER_CONFIG", config)), logged.Add, logged.Add, handler: Trusting(registry.CaPath!)));
        Assert.AreEqual("OCIB1411", none.Code, none.Message);

        // credsStore: docker-credential-<name> get, the server on stdin.
        string bin = dir.Combine("bin");
        Directory.CreateDirectory(bin);
        string helper = Path.Combine(bin, "docker-credential-ocitest");
        File.WriteAllText(helper, $"#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n[ \"$server\" = \"{registry.Host}\" ] || {{ echo \"credentials not found in native keychain\" >&2; exit 1; }}\necho '{{\"ServerURL\":\"'$server'\",\"Username\":\"{User}\",\"Secret\":\"{Password}\"}}'\n");
        File.SetUnixFileMode(helper, (UnixFileMode)0b111_101_101);
        File.WriteAllText(Path.Combine(config, "config.json"), new JObject { ["credsStore"] = "ocitest" }.ToString());
        PushResult helped = ImagePusher.Push(Spec(registry, image, "team/helped", insecure: false), Env(("DOCKER_CONFIG", config), ("PATH", bin + ":/usr/bin:/bin")), logged.Add, logged.Add, handler: Trusting(registry.CaPath!));
        Assert.IsFalse(helped.UpToDate);

        // A helper named but missing: OCIB1420.
        File.WriteAllText(Path.Combine(config, "config.json"), new JObject { ["credHelpers"] = new JObject { [registry.Host] = "absent" } }.ToString());
        Assert.AreEqual("OCIB1420", Fails(() => ImagePusher.Push(Spec(registry, image, insecure: false), Env(("DOCKER_CONFIG", config)), logged.Add, logged.Add, handler: Trusting(registry.CaPath!))).Code);

        // Environment variables win over the file.
        PushResult fromEnv = ImagePusher.Push(Spec(registry, image, "team/env", insecure: false), Env(("DOCKER_CONFIG", config), ("OCIBUNDLE_REGISTRY_USERNAME", User), ("OCIBUNDLE_REGISTRY_PASSWORD", Password)), logged.Add, logged.Add, handler: Trusting(registry.CaPath!));
        Assert.AreEqual(layout.ManifestDigest, fromEnv.ManifestDigest);

        string all = string.Join("\n", logged) + refused.Message + none.Message;
        Assert.IsFalse(all.Contains(Password, StringComparison.Ordinal), "no secret in the log");
        Assert.IsFalse(all.Contains(Auth(User, Password), StringComparison.Ordinal), "nor its base64");
    }

    [TestMethod]
    public void BearerTokensAreFetchedPerScopeRenewedWhenExpiredAndRefusalsAreCoded()
    {
        using var dir = new TempDirectory();
        using var tokens = new TestTokenServer(User, Password);
        using var registry = new TestRegistry(token: tokens);
        string image = dir.Combine("img");
        ImageResult layout = WriteLayout(dir, image);
        var logged = new List<string>();
        var creds = Env(("OCIBUNDLE_REGISTRY_USERNAME", User), ("OCIBUNDLE_REGISTRY_PASSWORD", Password));

        // The first token is already expired (as one that runs out mid-push): the registry says 401, a new one is fetched, the push goes on.
        tokens.ExpiredTokens = 1;
        PushResult pushed = ImagePusher.Push(Spec(registry, image), creds, logged.Add, logged.Add);
        Assert.AreEqual(layout.ManifestDigest, pushed.ManifestDigest);
        Assert.AreEqual(2, tokens.Issued, "one expired token, one good one, cached for the scope across every request");

        Assert.AreEqual("OCIB1411", Fails(() => ImagePusher.Push(Spec(registry, image, "team/anon"), Env(), logged.Add, logged.Add)).Code, "anonymous gets a pull-only token");
        OciBundleException wrong = Fails(() => ImagePusher.Push(Spec(registry, image, "team/wrong"), Env(("OCIBUNDLE_REGISTRY_USERNAME", User), ("OCIBUNDLE_REGISTRY_PASSWORD", "nope")), logged.Add, logged.Add));
        Assert.AreEqual("OCIB1410", wrong.Code, wrong.Message);
        StringAssert.Contains(wrong.Message, "OCIBUNDLE_REGISTRY_USERNAME");
        tokens.PullOnlyRepository = "team/readonly";
        OciBundleException denied = Fails(() => ImagePusher.Push(Spec(registry, image, "team/readonly"), creds, logged.Add, logged.Add));
        Assert.AreEqual("OCIB1412", denied.Code, denied.Message);
        Assert.IsFalse((string.Join("\n", logged) + wrong.Message + denied.Message).Contains(Password, StringComparison.Ordinal), "no secret in the log");
    }

    [TestMethod]
    public void AnIdentityTokenInConfigJsonIsExchangedWithTheRefreshTokenGrantAndARefusedOneIsOCIB1410()
    {
        using var dir = new TempDirectory();
        string refresh = "refresh-" + Guid.NewGuid().ToString("N");
        using var tokens = new TestTokenServer(User, Password) { RefreshToken = refresh };
        using var registry = new TestRegistry(token: tokens);
        string image = dir.Combine("img");
        ImageResult layout = WriteLayout(dir, image);
        string config = dir.Combine("docker");
        Directory.CreateDirectory(config);
        string configFile = Path.Combine(config, "config.json");

        // As az acr login (and docker login against an OAuth2 registry) write it: a placeholder user with no password, and the refresh token.
        string Entry(string token) => new JObject
        {
            ["auths"] = new JObject { [registry.Host] = new JObject { ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes("00000000-0000-0000-0000-000000000000:")), ["identitytoken"] = token } },
        }.ToString();
        File.WriteAllText(configFile, Entry(refresh));
        var logged = new List<string>();
        PushResult pushed = ImagePusher.Push(Spec(registry, image), Env(("DOCKER_CONFIG", config)), logged.Add, logged.Add);
        Assert.AreEqual(layout.ManifestDigest, pushed.ManifestDigest);
        Assert.IsTrue(ImagePusher.Push(Spec(registry, image), Env(("DOCKER_CONFIG", config)), logged.Add, logged.Add).UpToDate, "the registry holds the image under every tag, taken on the tokens the refresh token bought");

        Assert.IsTrue(tokens.OAuthForms.Count >= 1, "the token came from an OAuth2 POST");
        Assert.AreEqual(tokens.OAuthForms.Count, tokens.Issued, "every token was bought with the refresh token: no GET with Basic");
        Dictionary<string, string> form = tokens.OAuthForms[0];
        Assert.AreEqual("refresh_token", form["grant_type"]);
        Assert.AreEqual(refresh, form["refresh_token"]);
        Assert.AreEqual(tokens.Service, form["service"]);
        CollectionAssert.Contains(form["scope"].Split(' '), "repository:team/app:pull,push");
        Assert.IsTrue(form.TryGetValue("client_id", out string? clientId) && clientId.Length > 0, "OAuth2 wants a client_id");

        // A refresh token the server no longer knows (revoked, expired): invalid_grant (RFC 6749), which is the credentials refused.
        File.WriteAllText(configFile, Entry("revoked-" + refresh));
        OciBundleException refused = Fails(() => ImagePusher.Push(Spec(registry, image, "team/other"), Env(("DOCKER_CONFIG", config)), logged.Add, logged.Add));
        Assert.AreEqual("OCIB1410", refused.Code, refused.Message);
        StringAssert.Contains(refused.Message, configFile);
        StringAssert.Contains(refused.Message, "docker login");
        Assert.IsFalse((string.Join("\n", logged) + refused.Message).Contains(refresh, StringComparison.Ordinal), "no refresh token in the log or the message");
    }

    [TestMethod]
    [DataRow("OCIB1400", "registry:http://127.0.0.1:5000")]
    [DataRow("OCIB1400", "registry:127.0.0.1:0")]
    [DataRow("OCIB1400", "registry:user:S3CRETPW@registry.example.com")]
    [DataRow("OCIB1400", "registry:https://user:S3CRETPW@registry.example.com")]
    [DataRow("OCIB1402", "tags:latest;-bad")]
    [DataRow("OCIB1403", "insecure:http://x/")]
    [DataRow("OCIB1401", "repository:Team/App")]
    public void BadPushSettingsAreCodedErrors(string code, string mistake)
    {
        string[] parts = mistake.Split(':', 2);
        var o = new PushOptions { ImageDirectory = "/tmp/img", Registry = "127.0.0.1:5000", Repository = "app", Tags = { "latest" } };
        switch (parts[0])
        {
            case "registry": o.Registry = parts[1]; break;
            case "tags": o.Tags = parts[1].Split(';').ToList(); break;
            case "insecure": o.InsecureRegistries.Add(parts[1]); break;
            case "repository": o.Repository = parts[1]; break;
        }

        try
        {
            PushSpec.Parse(o, _ => null);
            Assert.Fail("parsed");
        }
        catch (BundleValidationException e)
        {
            CollectionAssert.AreEqual(new[] { code }, e.Errors.Select(x => x.Code).ToArray());
            Assert.IsFalse(e.Errors.Any(x => x.Message.Contains("S3CRETPW", StringComparison.Ordinal)), "a password in OciImageRegistry is not echoed: " + e.Errors[0].Message);
        }
    }

    [TestMethod]
    public void TheInsecureListComesFromThePropertyAndTheEnvironment()
    {
        var o = new PushOptions { ImageDirectory = "/tmp/img", Registry = "registry.lan:5000", Repository = "app", Tags = { "latest" } };
        Assert.IsFalse(PushSpec.Parse(o, _ => null).PlainHttp, "HTTPS unless listed");
        Assert.IsTrue(PushSpec.Parse(o, v => v == "OCIBUNDLE_INSECURE_REGISTRIES" ? "other:1,registry.lan:5000" : null).PlainHttp);
        Assert.IsTrue(PushSpec.Parse(o, v => v == "DOTNET_CONTAINER_INSECURE_REGISTRIES" ? "registry.lan:5000" : null).PlainHttp, "the .NET SDK's variable too");
        o.InsecureRegistries.Add("registry.lan:5000");
        Assert.IsTrue(PushSpec.Parse(o, _ => null).PlainHttp);
    }

    [TestMethod]
    public void ChallengeParametersAreParsedAsTheSpecWritesThem()
    {
        Dictionary<string, string> p = RegistryAuth.ChallengeParameters("realm=\"https://auth.example.com/token\",service=\"registry.example.com\",scope=\"repository:a/b:pull,push\",error=\"insufficient_scope\"");
        Assert.AreEqual("https://auth.example.com/token", p["realm"]);
        Assert.AreEqual("registry.example.com", p["service"]);
        Assert.AreEqual("repository:a/b:pull,push", p["scope"]);
        Assert.AreEqual("insufficient_scope", p["error"]);
    }
}
