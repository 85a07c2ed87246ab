using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Diagnostics;
using OciBundle.Registries;
using OciBundle.Request;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>Issue 14's adversarial trial: a hostile or broken registry, token server, helper or config gets coded errors and no secrets.</summary>
[TestClass]
public sealed class RegistryHostileTests
{
    private const string User = "alice";
    private const string Password = "S3CRETPW";

    /// <summary>A registry in a handler: <paramref name="answer"/> gets every request; all are recorded with their Authorization.</summary>
    internal sealed class FakeRegistry : HttpMessageHandler
    {
        private readonly Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> _answer;

        public FakeRegistry(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer) => _answer = answer;

        public FakeRegistry(Func<HttpRequestMessage, HttpResponseMessage> answer) => _answer = (r, _) => Task.FromResult(answer(r));

        public ConcurrentQueue<(string Method, Uri Uri, string? Authorization)> Seen { get; } = new();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen.Enqueue((request.Method.Method, request.RequestUri!, request.Headers.Authorization?.ToString()));
            if (request.Content is not null)
            {
                await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            }

            HttpResponseMessage response = await _answer(request, cancellationToken).ConfigureAwait(false);
            response.RequestMessage = request;
            return response;
        }
    }

    internal static HttpResponseMessage Answer(HttpStatusCode status, string body = "", params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach ((string name, string value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }

        return response;
    }

    private static Func<string, string?> Credentials(string? home = null) => key => key switch
    {
        CredentialLookup.UsernameVariable => User,
        CredentialLookup.PasswordVariable => Password,
        "HOME" => home ?? "/nonexistent",
        _ => null,
    };

    private static PushSpec Spec(string image, string registry, bool insecure) =>
        PushSpec.Parse(new PushOptions { ImageDirectory = image, Registry = registry, Repository = "team/app", Tags = new List<string> { "latest" }, InsecureRegistries = insecure ? new List<string> { registry } : new List<string>() }, _ => null);

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

    /// <summary>A Basic registry at <paramref name="origin"/> whose uploads go on at <paramref name="location"/>; <paramref name="elsewhere"/> answers requests to other origins.</summary>
    private static FakeRegistry BasicRegistry(string origin, string location, Func<HttpRequestMessage, HttpResponseMessage>? elsewhere = null) => new(r =>
    {
        string path = r.RequestUri!.AbsolutePath;
        if (!r.RequestUri.GetLeftPart(UriPartial.Authority).Equals(origin, StringComparison.OrdinalIgnoreCase))
        {
            return elsewhere?.Invoke(r) ?? Answer(HttpStatusCode.InternalServerError);
        }

        if (r.Headers.Authorization is null)
        {
            return Answer(HttpStatusCode.Unauthorized, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"auth\"}]}", ("WWW-Authenticate", "Basic realm=\"r\""));
        }

        return r.Method.Method switch
        {
            "HEAD" => Answer(HttpStatusCode.NotFound),
            "POST" => Answer(HttpStatusCode.Accepted, "", ("Location", location)),
            "PUT" when path.Contains("/manifests/", StringComparison.Ordinal) => Answer(HttpStatusCode.Created),
            "PUT" or "PATCH" => Answer(r.Method == HttpMethod.Put ? HttpStatusCode.Created : HttpStatusCode.Accepted, "", ("Location", path)),
            _ => Answer(HttpStatusCode.NotFound),
        };
    });

    [TestMethod]
    [DataRow("https://registry.test", "http://registry.test:5801/v2/team/app/blobs/uploads/abc", false, DisplayName = "https registry, http Location on another port")]
    [DataRow("https://registry.test", "http://registry.test/v2/team/app/blobs/uploads/abc", false, DisplayName = "https registry, http Location on its host")]
    [DataRow("https://registry.test", "file:///etc/passwd", false, DisplayName = "file: Location")]
    [DataRow("http://127.0.0.1:5800", "ftp://127.0.0.1:5801/upload", true, DisplayName = "ftp: Location from an insecure registry")]
    public void AnUploadLocationThatIsNotHttpOrDowngradesTlsIsRefusedAndGetsNothing(string origin, string location, bool insecure)
    {
        using var dir = new TempDirectory();
        string image = dir.Combine("img");
        RegistryPushTests.WriteLayout(dir, image);
        var registry = BasicRegistry(origin, location);
        OciBundleException e = Fails(() => ImagePusher.Push(Spec(image, new Uri(origin).Authority, insecure), Credentials(), _ => { }, _ => { }, handler: registry));
        Assert.AreEqual("OCIB1424", e.Code, e.Message);
        StringAssert.Contains(e.Message, new Uri(origin).Authority);
        StringAssert.Contains(e.Message, "team/app");
        Assert.IsFalse(registry.Seen.Any(s => !s.Uri.GetLeftPart(UriPartial.Authority).Equals(origin, StringComparison.OrdinalIgnoreCase)), "nothing is sent to the Location");
        Assert.IsFalse(e.Message.Contains(Password, StringComparison.Ordinal));
    }

    [TestMethod]
    [DataRow("https://registry.test", "https://storage.test/bucket/upload?X-Amz-Signature=abc", false, DisplayName = "https blob storage from a TLS registry")]
    [DataRow("http://127.0.0.1:5800", "http://127.0.0.1:5801/v2/team/app/blobs/uploads/abc", true, DisplayName = "another port of an insecure registry")]
    public void AnUploadContinuingOnAnotherOriginGetsNoCredentials(string origin, string location, bool insecure)
    {
        using var dir = new TempDirectory();
        string image = dir.Combine("img");
        RegistryPushTests.WriteLayout(dir, image);
        var registry = BasicRegistry(origin, location, r => r.Method == HttpMethod.Put ? Answer(HttpStatusCode.Created) : Answer(HttpStatusCode.Accepted, "", ("Location", r.RequestUri!.ToString())));
        PushResult pushed = ImagePusher.Push(Spec(image, new Uri(origin).Authority, insecure), Credentials(), _ => { }, _ => { }, handler: registry, chunkSize: 1 << 20);
        Assert.IsFalse(pushed.UpToDate);
        var elsewhere = registry.Seen.Where(s => !s.Uri.GetLeftPart(UriPartial.Authority).Equals(origin, StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.IsTrue(elsewhere.Count > 0, "the uploads went to the Location");
        Assert.IsTrue(elsewhere.All(s => s.Authorization is null), "no credentials to another origin: " + string.Join(", ", elsewhere.Select(s => s.Authorization)));
        Assert.IsTrue(registry.Seen.Any(s => s.Uri.AbsolutePath.Contains("/manifests/", StringComparison.Ordinal) && s.Method == "PUT" && s.Authorization is not null), "the registry itself still gets them");
    }

    /// <summary>A Bearer registry whose challenge names <paramref name="realm"/>; the realm answers a token.</summary>
    private static FakeRegistry BearerRegistry(string origin, string realm) => new(r =>
    {
        if (r.RequestUri!.AbsolutePath.StartsWith("/token", StringComparison.Ordinal))
        {
            return Answer(HttpStatusCode.OK, "{\"token\":\"TOKEN-SECRET-123\",\"expires_in\":300}");
        }

        if (r.Headers.Authorization?.ToString() != "Bearer TOKEN-SECRET-123")
        {
            return Answer(HttpStatusCode.Unauthorized, "", ("WWW-Authenticate", $"Bearer realm=\"{realm}\",service=\"s\""));
        }

        return r.Method.Method switch
        {
            "HEAD" => Answer(HttpStatusCode.NotFound),
            "POST" => Answer(HttpStatusCode.Accepted, "", ("Location", "/v2/team/app/blobs/uploads/u")),
            "PATCH" => Answer(HttpStatusCode.Accepted, "", ("Location", "/v2/team/app/blobs/uploads/u")),
            _ => Answer(HttpStatusCode.Created),
        };
    });

    [TestMethod]
    [DataRow("https://registry.test", "http://registry.test/token", false, DisplayName = "http realm of a TLS registry")]
    [DataRow("https://registry.test", "http://127.0.0.1:5801/token", false, DisplayName = "http realm elsewhere of a TLS registry")]
    [DataRow("http://registry.lan:5000", "http://auth.lan/token", true, DisplayName = "http realm on another host of an insecure registry")]
    public void APlainHttpRealmGetsNoCredentialsUnlessTheRegistryIsInsecureOnItsHost(string origin, string realm, bool insecure)
    {
        using var dir = new TempDirectory();
        string image = dir.Combine("img");
        RegistryPushTests.WriteLayout(dir, image);
        var registry = BearerRegistry(origin, realm);
        OciBundleException e = Fails(() => ImagePusher.Push(Spec(image, new Uri(origin).Authority, insecure), Credentials(), _ => { }, _ => { }, handler: registry));
        Assert.AreEqual("OCIB1422", e.Code, e.Message);
        StringAssert.Contains(e.Message, realm);
        Assert.IsFalse(registry.Seen.Any(s => s.Uri.AbsolutePath.StartsWith("/token", StringComparison.Ordinal)), "nothing goes to the realm");
        Assert.IsFalse(registry.Seen.Any(s => s.Authorization?.StartsWith("Basic", StringComparison.Ordinal) == true));
    }

    [TestMethod]
    public void AnInsecureRegistrysHttpRealmOnItsOwnHostStillWorks()
    {
        using var dir = new TempDirectory();
        string image = dir.Combine("img");
        RegistryPushTests.WriteLayout(dir, image);
        var registry = BearerRegistry("http://127.0.0.1:5800", "http://127.0.0.1:5801/token");
        PushResult pushed = ImagePusher.Push(Spec(image, "127.0.0.1:5800", insecure: true), Credentials(), _ => { }, _ => { }, handler: registry, chunkSize: 1 << 20);
        Assert.IsFalse(pushed.UpToDate);
        Assert.IsTrue(registry.Seen.Any(s => s.Uri.Port == 5801 && s.Authorization?.StartsWith("Basic", StringComparison.Ordinal) == true));
    }

    /// <summary>$DOCKER_CONFIG with <c>credsStore: ocitest</c> and docker-credential-ocitest running <paramref name="script"/>.</summary>
    private static Func<string, string?> Helper(TempDirectory dir, string script)
    {
        string config = dir.Combine("docker");
        string bin = dir.Combine("bin");
        Directory.CreateDirectory(config);
        Directory.CreateDirectory(bin);
        File.WriteAllText(Path.Combine(config, "config.json"), "{\"credsStore\": \"ocitest\"}");
        string helper = Path.Combine(bin, "docker-credential-ocitest");
        File.WriteAllText(helper, "#!/bin/sh\n" + script + "\n");
        File.SetUnixFileMode(helper, (UnixFileMode)0b111_101_101);
        return key => key switch { "DOCKER_CONFIG" => config, "PATH" => bin + ":/usr/bin:/bin", _ => null };
    }

    private static OciBundleException FindFails(Func<string, string?> environment, string registry = "registry.test", CancellationToken cancel = default) =>
        Fails(() => CredentialLookup.Find(registry, environment, _ => { }, out _, cancel, TimeSpan.FromSeconds(1)));

    [TestMethod]
    [DataRow("exec sleep 20", DisplayName = "a helper that never answers")]
    [DataRow("sleep 5 &\necho '{\"Username\":\"a\",\"Secret\":\"b\"}'", DisplayName = "a helper whose child keeps its output open")]
    public void AHelperThatHangsIsStoppedAtTheDeadline(string script)
    {
        using var dir = new TempDirectory();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        OciBundleException e = FindFails(Helper(dir, script));
        Assert.AreEqual("OCIB1420", e.Code, e.Message);
        StringAssert.Contains(e.Message, "within 1 seconds");
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(4), $"stopped at the deadline, not after {clock.Elapsed}");
    }

    [TestMethod]
    public void AHelperIsStoppedWhenTheBuildIsCanceled()
    {
        using var dir = new TempDirectory();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Throws<OperationCanceledException>(() => CredentialLookup.Find("registry.test", Helper(dir, "exec sleep 20"), _ => { }, out _, cancel.Token, TimeSpan.FromSeconds(30)));
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(4), clock.Elapsed.ToString());
    }

    [TestMethod]
    public void AHelperThatExitsWithoutReadingItsInputIsACodedError()
    {
        using var dir = new TempDirectory();

        // A server name longer than a pipe holds: the write waits for the helper, which closes its stdin and exits (a broken pipe).
        OciBundleException e = FindFails(Helper(dir, "exec 0<&-\nsleep 0.2\nexit 0"), registry: new string('r', 200_000));
        Assert.AreEqual("OCIB1420", e.Code, e.Message);
    }

    [TestMethod]
    [DataRow("echo '{\"Username\": {\"x\": 1}, \"Secret\": \"s\"}'", DisplayName = "an object for Username")]
    [DataRow("echo '{\"Username\": \"u\", \"Secret\": [1]}'", DisplayName = "an array for Secret")]
    [DataRow("echo '[1, 2]'", DisplayName = "an array")]
    public void AHelpersAnswerOfAnotherShapeIsACodedError(string script)
    {
        using var dir = new TempDirectory();
        OciBundleException e = FindFails(Helper(dir, script));
        Assert.AreEqual("OCIB1420", e.Code, e.Message);
        StringAssert.Contains(e.Message, "registry.test");
    }

    [TestMethod]
    public void AFailingHelpersOwnWordsAreNotQuoted()
    {
        using var dir = new TempDirectory();
        OciBundleException e = FindFails(Helper(dir, "echo 'token TOPSECRET expired' >&2\nexit 7"));
        Assert.AreEqual("OCIB1420", e.Code, e.Message);
        StringAssert.Contains(e.Message, "code 7");
        Assert.IsFalse(e.Message.Contains("TOPSECRET", StringComparison.Ordinal), e.Message);
    }

    /// <summary>A body that sends <paramref name="prefix"/>, then stalls (until canceled), never ends (spaces), or drops the connection.</summary>
    private sealed class HostileBody : Stream
    {
        private readonly byte[] _prefix;
        private readonly string _then;
        private int _at;

        public HostileBody(string prefix, string then)
        {
            _prefix = Encoding.UTF8.GetBytes(prefix);
            _then = then;
        }

        public long Served { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_at < _prefix.Length)
            {
                int n = Math.Min(buffer.Length, _prefix.Length - _at);
                _prefix.AsMemory(_at, n).CopyTo(buffer);
                _at += n;
                Served += n;
                return n;
            }

            switch (_then)
            {
                case "stall":
                    await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
                    return 0;
                case "endless":
                    buffer.Span.Fill((byte)' ');
                    Served += buffer.Length;
                    return buffer.Length;
                default:
                    throw new IOException("The response ended prematurely (connection reset)");
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static HttpResponseMessage Streamed(HttpStatusCode status, Stream body, params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage(status) { Content = new StreamContent(body) };
        foreach ((string name, string value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }

        return response;
    }

    private static RegistryClient Client(HttpMessageHandler handler, bool credentials = true) =>
        new("registry.test", "team/app", plainHttp: false, credentials ? new RegistryCredentials(User, Password, "the test") : null, "nowhere", _ => { }, handler)
        {
            HeaderTimeout = TimeSpan.FromMilliseconds(500),
            BodyTimeout = TimeSpan.FromMilliseconds(500),
            Backoff = _ => TimeSpan.FromMilliseconds(10),
        };

    private static async Task<OciBundleException> Push(RegistryClient client, CancellationToken cancel = default)
    {
        try
        {
            using HttpResponseMessage response = await client.SendAsync(() => new HttpRequestMessage(HttpMethod.Head, client.Url("team/app/manifests/latest")), RegistryClient.PushScope("team/app"), cancel);
            return await client.Fail(response, "HEAD manifest latest", cancel);
        }
        catch (OciBundleException e)
        {
            return e;
        }
    }

    [TestMethod]
    public async Task ARegistryThatNeverAnswersTimesOutOnceNotForever()
    {
        var registry = new FakeRegistry(async (_, cancel) =>
        {
            await Task.Delay(Timeout.Infinite, cancel);
            return Answer(HttpStatusCode.OK);
        });
        using RegistryClient client = Client(registry);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        OciBundleException e = await Push(client);
        Assert.AreEqual("OCIB1418", e.Code, e.Message);
        StringAssert.Contains(e.Message, "no answer within");
        Assert.AreEqual(1, registry.Seen.Count, "a request that timed out is not sent again");
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(5), clock.Elapsed.ToString());
    }

    [TestMethod]
    public async Task AnErrorBodyThatStallsIsGivenUpAndCancellationStopsIt()
    {
        var registry = new FakeRegistry(_ => Streamed(HttpStatusCode.BadRequest, new HostileBody("{\"err", "stall")));
        using RegistryClient client = Client(registry);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        OciBundleException e = await Push(client);
        Assert.AreEqual("OCIB1419", e.Code, e.Message);
        StringAssert.Contains(e.Message, "400");
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(5), clock.Elapsed.ToString());

        using RegistryClient patient = new("registry.test", "team/app", false, null, "nowhere", _ => { }, registry) { BodyTimeout = TimeSpan.FromMinutes(10) };
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        clock.Restart();
        await Assert.ThrowsAsync<OperationCanceledException>(() => Push(patient, cancel.Token));
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(5), "canceled, not waited for: " + clock.Elapsed);
    }

    [TestMethod]
    public async Task AHugeErrorBodyIsReadOnlyUpToTheCap()
    {
        var body = new HostileBody("{\"errors\": [", "endless");
        var registry = new FakeRegistry(_ => Streamed(HttpStatusCode.BadRequest, body));
        using RegistryClient client = Client(registry);
        OciBundleException e = await Push(client);
        Assert.AreEqual("OCIB1419", e.Code, e.Message);
        Assert.IsTrue(body.Served <= RegistryClient.MaxAnswerBytes + (1 << 17), $"read {body.Served} bytes");
    }

    [TestMethod]
    [DataRow("{\"errors\": [{\"code\": {\"x\": 1}, \"message\": 5}]}", DisplayName = "an object for the code")]
    [DataRow("{\"errors\": [1, \"DENIED\"]}", DisplayName = "errors that are not objects")]
    [DataRow("[{\"code\": \"DENIED\"}]", DisplayName = "an array")]
    [DataRow("{\"errors\": {\"code\": \"DENIED\"}}", DisplayName = "an object for errors")]
    public async Task AnErrorBodyOfAnotherShapeIsACodedError(string body)
    {
        var registry = new FakeRegistry(_ => Answer(HttpStatusCode.BadRequest, body));
        using RegistryClient client = Client(registry);
        OciBundleException e = await Push(client);
        Assert.AreEqual("OCIB1419", e.Code, e.Message);
        StringAssert.Contains(e.Message, "registry.test");
        StringAssert.Contains(e.Message, "team/app");
    }

    /// <summary>A Bearer registry whose token server (on its host) answers with <paramref name="token"/>.</summary>
    private static FakeRegistry TokenRegistry(Func<CancellationToken, Task<HttpResponseMessage>> token) => new((r, cancel) =>
        r.RequestUri!.AbsolutePath.StartsWith("/token", StringComparison.Ordinal) ? token(cancel)
        : Task.FromResult(Answer(HttpStatusCode.Unauthorized, "", ("WWW-Authenticate", "Bearer realm=\"https://registry.test/token\",service=\"s\""))));

    [TestMethod]
    public async Task ATokenServerThatDropsStallsOrAnswersGarbageIsOCIB1422()
    {
        var answers = new Dictionary<string, Func<CancellationToken, Task<HttpResponseMessage>>>
        {
            ["drops mid-body"] = _ => Task.FromResult(Streamed(HttpStatusCode.OK, new HostileBody("{\"tok", "drop"))),
            ["stalls mid-body"] = _ => Task.FromResult(Streamed(HttpStatusCode.OK, new HostileBody("{\"tok", "stall"))),
            ["never answers"] = async cancel =>
            {
                await Task.Delay(Timeout.Infinite, cancel);
                return Answer(HttpStatusCode.OK);
            },
            ["an object for the token"] = _ => Task.FromResult(Answer(HttpStatusCode.OK, "{\"token\": {\"a\": 1}, \"expires_in\": \"soon\"}")),
            ["an array"] = _ => Task.FromResult(Answer(HttpStatusCode.OK, "[\"token\"]")),
            ["a number for the token, an infinite lifetime"] = _ => Task.FromResult(Answer(HttpStatusCode.OK, "{\"token\": 5, \"expires_in\": 1e400}")),
        };
        foreach ((string what, var answer) in answers)
        {
            using RegistryClient client = Client(TokenRegistry(answer));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            OciBundleException e = await Push(client);
            Assert.AreEqual("OCIB1422", e.Code, what + ": " + e.Message);
            StringAssert.Contains(e.Message, "https://registry.test/token", what);
            Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(5), what + ": " + clock.Elapsed);
        }
    }

    [TestMethod]
    public async Task ATokenWithAnOddLifetimeIsStillUsed()
    {
        int registryAsked = 0;
        var registry = new FakeRegistry(r =>
        {
            if (r.RequestUri!.AbsolutePath.StartsWith("/token", StringComparison.Ordinal))
            {
                return Answer(HttpStatusCode.OK, "{\"token\": \"T\", \"expires_in\": \"soon\"}");
            }

            registryAsked++;
            return r.Headers.Authorization?.ToString() == "Bearer T" ? Answer(HttpStatusCode.NotFound) : Answer(HttpStatusCode.Unauthorized, "", ("WWW-Authenticate", "Bearer realm=\"https://registry.test/token\""));
        });
        using RegistryClient client = Client(registry);
        using HttpResponseMessage response = await client.SendAsync(() => new HttpRequestMessage(HttpMethod.Head, client.Url("team/app/manifests/latest")), RegistryClient.PushScope("team/app"), default);
        Assert.AreEqual(HttpStatusCode.NotFound, response.StatusCode);
        Assert.AreEqual(2, registryAsked);
    }

    private static OciBundleException ConfigFails(string config) =>
        Fails(() => CredentialLookup.Find("registry.test", key => key == "DOCKER_CONFIG" ? config : null, _ => { }, out _));

    [TestMethod]
    public void AConfigThatIsAFifoOrLeadsToADeviceIsNotRead()
    {
        using var dir = new TempDirectory();
        string config = dir.Combine("docker");
        Directory.CreateDirectory(config);
        string path = Path.Combine(config, "config.json");

        File.CreateSymbolicLink(path, "/dev/zero");
        OciBundleException zero = ConfigFails(config);
        Assert.AreEqual("OCIB1421", zero.Code, zero.Message);
        StringAssert.Contains(zero.Message, "/dev/zero");

        File.Delete(path);
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", path))
        {
            mkfifo.WaitForExit();
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        Task<OciBundleException> fifo = Task.Run(() => ConfigFails(config));
        Assert.IsTrue(fifo.Wait(TimeSpan.FromSeconds(10)), "a FIFO is never opened");
        Assert.AreEqual("OCIB1421", fifo.Result.Code, fifo.Result.Message);
        StringAssert.Contains(fifo.Result.Message, "not a regular file");

        File.Delete(path);
        File.WriteAllText(path, "[1]");
        Assert.AreEqual("OCIB1421", ConfigFails(config).Code);
        File.WriteAllText(path, new string(' ', 5 << 20) + "{}");
        StringAssert.Contains(ConfigFails(config).Message, "bytes");
    }

    [TestMethod]
    [DataRow("{\"identitytoken\": \"t\", \"username\": {\"a\": 1}}", DisplayName = "an object for the username of a token")]
    [DataRow("{\"username\": 5, \"password\": \"p\"}", DisplayName = "a number for the username")]
    [DataRow("{\"auth\": [\"dXNlcjpwYXNz\"]}", DisplayName = "an array for auth")]
    public void AnAuthsEntryOfAnotherShapeIsACodedError(string entry)
    {
        using var dir = new TempDirectory();
        string config = dir.Combine("docker");
        Directory.CreateDirectory(config);
        File.WriteAllText(Path.Combine(config, "config.json"), "{\"auths\": {\"registry.test\": " + entry + "}}");
        OciBundleException e = ConfigFails(config);
        Assert.AreEqual("OCIB1421", e.Code, e.Message);
        StringAssert.Contains(e.Message, "registry.test");
    }

    [TestMethod]
    [DataRow("{\"manifests\": [{\"digest\": {\"a\": 1}}]}", DisplayName = "an object for the digest")]
    [DataRow("{\"manifests\": [5]}", DisplayName = "a number for the descriptor")]
    public void AGarbledLayoutIsOCIB1405(string index)
    {
        using var dir = new TempDirectory();
        string image = dir.Combine("img");
        Directory.CreateDirectory(image);
        File.WriteAllText(Path.Combine(image, "index.json"), index);
        Assert.AreEqual("OCIB1405", Fails(() => ImageLayout.Read(image)).Code);
    }

    [TestMethod]
    public void ThePushsUnexpectedErrorSaysPushNotBundle()
    {
        StringAssert.Contains(Strings.PushUnexpectedError.Template, "push");
        Assert.IsFalse(Strings.PushUnexpectedError.Template.Contains("bundle", StringComparison.OrdinalIgnoreCase));
        StringAssert.Contains(File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "src", "OciBundle.Tasks", "PushOciImage.cs")), "Strings.PushUnexpectedError");
    }

    [TestMethod]
    public async Task AttemptsAreCountedOnlyWhenTheRequestWasRetried()
    {
        using RegistryClient once = Client(new FakeRegistry(_ => Answer(HttpStatusCode.BadRequest, "{}")));
        OciBundleException refused = await Push(once);
        Assert.AreEqual("OCIB1419", refused.Code);
        Assert.IsFalse(refused.Message.Contains("attempts", StringComparison.Ordinal), refused.Message);

        using RegistryClient retried = Client(new FakeRegistry(_ => Answer(HttpStatusCode.ServiceUnavailable, "{}")));
        OciBundleException failing = await Push(retried);
        Assert.AreEqual("OCIB1419", failing.Code);
        StringAssert.Contains(failing.Message, "after 4 attempts");
    }

    [TestMethod]
    public async Task ARedirectToAnotherPortIsFollowedWithoutTheCredentials()
    {
        // Real sockets: the registry (Basic) redirects a blob's HEAD to a catcher on another port, as blob storage would.
        int port = TestRegistry.FreePort(), other = TestRegistry.FreePort();
        using var registry = new HttpListener();
        registry.Prefixes.Add($"http://127.0.0.1:{port}/");
        using var catcher = new HttpListener();
        catcher.Prefixes.Add($"http://127.0.0.1:{other}/");
        registry.Start();
        catcher.Start();
        var caught = new ConcurrentQueue<string?>();
        using var stop = new CancellationTokenSource();
        async Task Serve(HttpListener listener, Action<HttpListenerContext> answer)
        {
            while (!stop.IsCancellationRequested)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync().WaitAsync(stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                answer(context);
                context.Response.Close();
            }
        }

        Task a = Serve(registry, c =>
        {
            if (c.Request.Headers["Authorization"] is null)
            {
                c.Response.StatusCode = 401;
                c.Response.AddHeader("WWW-Authenticate", "Basic realm=\"r\"");
            }
            else
            {
                c.Response.StatusCode = 307;
                c.Response.RedirectLocation = $"http://127.0.0.1:{other}/blob";
            }
        });
        Task b = Serve(catcher, c =>
        {
            caught.Enqueue(c.Request.Headers["Authorization"]);
            c.Response.StatusCode = 200;
        });
        try
        {
            using var client = new RegistryClient($"127.0.0.1:{port}", "team/app", plainHttp: true, new RegistryCredentials(User, Password, "the test"), "nowhere", _ => { });
            using HttpResponseMessage response = await client.SendAsync(() => new HttpRequestMessage(HttpMethod.Head, client.Url("team/app/blobs/sha256:" + new string('0', 64))), RegistryClient.PushScope("team/app"), default);
            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
            Assert.AreEqual(1, caught.Count, "the redirect was followed");
            Assert.IsNull(caught.Single(), "without the registry's credentials");
        }
        finally
        {
            stop.Cancel();
            registry.Stop();
            catcher.Stop();
            await Task.WhenAll(a, b);
        }
    }

    /// <summary>The digest a tag names in a plain-HTTP registry, or null.</summary>
    private static string? TagDigest(TestRegistry registry, string tag)
    {
        using var http = new HttpClient();
        var request = new HttpRequestMessage(HttpMethod.Head, $"http://{registry.Host}/v2/team/app/manifests/{tag}");
        request.Headers.Accept.ParseAdd(OciBundle.Model.Oci.OciMediaTypes.ImageManifest);
        using HttpResponseMessage response = http.Send(request);
        return response.IsSuccessStatusCode ? response.Headers.GetValues("Docker-Content-Digest").Single() : null;
    }

    [TestMethod]
    [DataRow("OCIB1413", "name-unknown", "OciImageRepository", DisplayName = "OCIB1413: uploads refused with NAME_UNKNOWN (a registry that wants the repository created first)")]
    [DataRow("OCIB1414", "name-invalid", "OciImageRepository", DisplayName = "OCIB1414: uploads refused with NAME_INVALID (a registry with stricter names)")]
    [DataRow("OCIB1415", "blobs-dropped", "publish again", DisplayName = "OCIB1415: blob uploads answered 201 and never stored, so the manifest names blobs the registry lacks")]
    [DataRow("OCIB1416", "manifest-mangled", "OCI manifests", DisplayName = "OCIB1416: a proxy that relabels the OCI manifest as docker's, which the registry refuses")]
    public void ARegistryThatRefusesTheRepositoryABlobOrTheManifestGivesItsCodeAndMovesNoTag(string code, string misbehaviour, string fix)
    {
        using var dir = new TempDirectory();
        using var registry = new TestRegistry();
        string v1 = dir.Combine("v1");
        OciBundle.Images.ImageResult first = RegistryPushTests.WriteLayout(dir, v1);
        PushSpec Spec(string host, string image) =>
            PushSpec.Parse(new PushOptions { ImageDirectory = image, Registry = host, Repository = "team/app", Tags = { "latest", "1.0" }, InsecureRegistries = { host } }, _ => null);
        ImagePusher.Push(Spec(registry.Host, v1), _ => null, _ => { }, _ => { });
        string v2 = dir.Combine("v2");
        OciBundle.Images.ImageResult second = RegistryPushTests.WriteLayout(dir, v2, "app v2");
        var v1Blobs = Directory.GetFiles(Path.Combine(v1, "blobs", "sha256")).Select(f => "sha256:" + Path.GetFileName(f)).ToHashSet();
        var newBlobs = Directory.GetFiles(Path.Combine(v2, "blobs", "sha256")).Select(f => "sha256:" + Path.GetFileName(f)).Where(d => !v1Blobs.Contains(d) && d != second.ManifestDigest).ToList();

        using var proxy = new RegistryProxy(registry.Host, r =>
        {
            bool upload = r.Path.Contains("/blobs/uploads/", StringComparison.Ordinal);
            switch (misbehaviour)
            {
                case "name-unknown" when upload && r.Method == "POST":
                    return ProxyAnswer.Error(404, "NAME_UNKNOWN", "repository name not known to registry");
                case "name-invalid" when upload && r.Method == "POST":
                    return ProxyAnswer.Error(400, "NAME_INVALID", "invalid repository name");
                case "blobs-dropped" when upload && r.Method == "PUT":
                    return new ProxyAnswer(201, "", ("Docker-Content-Digest", Uri.UnescapeDataString(r.PathAndQuery.Split("digest=")[1])), ("Location", "/v2/team/app/blobs/" + Uri.UnescapeDataString(r.PathAndQuery.Split("digest=")[1])));
                case "manifest-mangled" when r.Method == "PUT" && r.Path.Contains("/manifests/", StringComparison.Ordinal):
                    r.ContentType = "application/vnd.docker.distribution.manifest.v2+json";
                    return null;
                default:
                    return null;
            }
        });

        OciBundleException e = Fails(() => ImagePusher.Push(Spec(proxy.Host, v2), _ => null, _ => { }, _ => { }));
        Assert.AreEqual(code, e.Code, e.Message);
        StringAssert.Contains(e.Message, proxy.Host);
        StringAssert.Contains(e.Message, "team/app");
        StringAssert.Contains(e.Message, fix, "the message says what to do");
        if (code == "OCIB1415")
        {
            Assert.IsTrue(newBlobs.Any(d => e.Message.Contains(d, StringComparison.Ordinal)), $"names a blob the registry lacks ({string.Join(", ", newBlobs)}): {e.Message}");
        }

        Assert.AreEqual(first.ManifestDigest, TagDigest(registry, "latest"), "latest still names the image it named");
        Assert.AreEqual(first.ManifestDigest, TagDigest(registry, "1.0"), "so does 1.0");
        Assert.IsNull(TagDigest(registry, second.ManifestDigest), "the new manifest is not in the registry by digest either");
    }

    [TestMethod]
    public void ARuntimeIdentifierListedTwiceIsOCIB1404()
    {
        using var dir = new TempDirectory();
        var engine = new FakeBuildEngine();
        var task = new OciBundle.Tasks.WriteOciImageIndex
        {
            BuildEngine = engine,
            Sources = new Microsoft.Build.Framework.ITaskItem[]
            {
                new Microsoft.Build.Utilities.TaskItem(dir.Combine("a"), new Dictionary<string, string> { ["RuntimeIdentifier"] = "linux-x64" }),
                new Microsoft.Build.Utilities.TaskItem(dir.Combine("a"), new Dictionary<string, string> { ["RuntimeIdentifier"] = "linux-x64" }),
            },
            Directory = dir.Combine("index"),
            Tag = "latest",
            Repository = "app",
            AppName = "App",
        };
        Assert.IsFalse(task.Execute());
        CollectionAssert.AreEqual(new[] { "OCIB1404" }, engine.Errors.Select(e => e.Code).ToArray(), string.Join("\n", engine.Errors.Select(e => e.Message)));
        StringAssert.Contains(engine.Errors[0].Message, "linux-x64");
    }
}
