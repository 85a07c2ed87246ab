using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Newtonsoft.Json.Linq;

namespace OciBundle.Testing;

/// <summary>
/// Debian's docker-registry (distribution 2.8) on 127.0.0.1 and a free port, with a storage folder of its own:
/// plain HTTP, TLS with a test CA, htpasswd Basic auth, or Bearer tokens from <see cref="TestTokenServer"/>.
/// Stopped by its pid (the process this object started), never by name. Its JSON log tells which requests it served.
/// </summary>
public sealed class TestRegistry : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _config;
    private Process? _process;

    public static string? Program => TestEnvironment.Which("docker-registry");

    public static void Require()
    {
        TestEnvironment.Require(Program is not null, "docker-registry (Debian package docker-registry, distribution 2.8) for the registry tests");
    }

    /// <param name="tls">Serve HTTPS with a certificate for 127.0.0.1 signed by <see cref="CaPath"/>.</param>
    /// <param name="htpasswd">user:password for Basic auth (needs htpasswd from apache2-utils, which makes bcrypt).</param>
    /// <param name="token">Bearer auth against this token server.</param>
    public TestRegistry(bool tls = false, string? htpasswd = null, TestTokenServer? token = null)
    {
        Require();
        Port = FreePort();
        string storage = _dir.Combine("storage");
        Directory.CreateDirectory(storage);
        var yaml = new StringBuilder();
        yaml.Append($"version: 0.1\nlog:\n  level: info\n  formatter: json\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{Port}\n  secret: test-secret\n");
        if (tls)
        {
            (CaPath, string cert, string key) = TestCertificates.Write(_dir.Path);
            yaml.Append($"  tls:\n    certificate: {cert}\n    key: {key}\n");
        }

        if (htpasswd is not null)
        {
            string[] parts = htpasswd.Split(':', 2);
            TestEnvironment.Require(TestEnvironment.Which("htpasswd") is not null, "htpasswd (Debian package apache2-utils) for the Basic auth registry test");
            ProcessResult made = TestEnvironment.RunCapture("htpasswd", "-Bbn", parts[0], parts[1]);
            if (made.ExitCode != 0)
            {
                throw new InvalidOperationException(made.All);
            }

            File.WriteAllText(_dir.Combine("htpasswd"), made.Output);
            yaml.Append($"auth:\n  htpasswd:\n    realm: test-registry\n    path: {_dir.Combine("htpasswd")}\n");
        }
        else if (token is not null)
        {
            yaml.Append($"auth:\n  token:\n    realm: {token.Realm}\n    service: {token.Service}\n    issuer: {token.Issuer}\n    rootcertbundle: {token.CertificatePath}\n");
        }

        _config = _dir.Combine("config.yml");
        File.WriteAllText(_config, yaml.ToString());
        Start();
    }

    public int Port { get; }

    public string Host => $"127.0.0.1:{Port}";

    public bool Tls => CaPath is not null;

    /// <summary>The test CA's certificate (PEM), when the registry serves TLS.</summary>
    public string? CaPath { get; }

    public string LogPath => _dir.Combine("registry.log");

    /// <summary>The registry's storage folder (distribution's filesystem driver: docker/registry/v2/...), which outlives a <see cref="Stop"/>.</summary>
    public string Storage => _dir.Combine("storage");

    public void Start()
    {
        var psi = new ProcessStartInfo(Program!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add(_config);
        _process = Process.Start(psi)!;
        var log = new StreamWriter(LogPath, append: true) { AutoFlush = true };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                if (_process.HasExited)
                {
                    break;
                }

                Thread.Sleep(50);
            }
        }

        throw new InvalidOperationException($"docker-registry did not start on {Host}:\n{File.ReadAllText(LogPath)}");
    }

    /// <summary>Kills the registry (the process this object started) and waits for it; its storage stays.</summary>
    public void Stop()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>The requests the registry answered so far (method, path, status), from its log.</summary>
    public List<(string Method, string Path, int Status)> Requests()
    {
        var result = new List<(string, string, int)>();
        string text;
        lock (this)
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            text = new StreamReader(stream).ReadToEnd();
        }

        foreach (string line in text.Split('\n'))
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }

            JObject entry;
            try
            {
                entry = JObject.Parse(line);
            }
            catch (Newtonsoft.Json.JsonException)
            {
                continue;
            }

            if ((string?)entry["msg"] == "response completed" || (string?)entry["msg"] == "response completed with error")
            {
                result.Add(((string)entry["http.request.method"]!, (string)entry["http.request.uri"]!, (int?)entry["http.response.status"] ?? 0));
            }
        }

        return result;
    }

    /// <summary>Uploads the registry took: POSTs, PATCHes and PUTs of blobs (not manifests).</summary>
    /// <summary>
    /// The requests once the registry's log has caught up: it writes each line after answering, so a count taken right
    /// after a client's last answer (skopeo's, say) can miss the newest lines. Waits until two reads 250 ms apart agree.
    /// </summary>
    public List<(string Method, string Path, int Status)> SettledRequests()
    {
        List<(string Method, string Path, int Status)> last = Requests();
        for (int i = 0; i < 40; i++)
        {
            Thread.Sleep(250);
            List<(string Method, string Path, int Status)> now = Requests();
            if (now.Count == last.Count)
            {
                return now;
            }

            last = now;
        }

        return last;
    }

    public int BlobWrites() => Requests().Count(r => r.Method is "POST" or "PATCH" || (r.Method == "PUT" && r.Path.Contains("/blobs/uploads/", StringComparison.Ordinal)));

    public void Dispose()
    {
        Stop();
        _dir.Dispose();
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>A test CA and a server certificate for 127.0.0.1 and localhost, as PEM files.</summary>
public static class TestCertificates
{
    public static (string Ca, string Cert, string Key) Write(string dir)
    {
        using RSA caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=OciBundle test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using X509Certificate2 ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new Oid("1.3.6.1.5.5.7.3.1") }, false));
        using X509Certificate2 cert = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), RandomNumberGenerator.GetBytes(8));

        string caPath = Path.Combine(dir, "ca.pem");
        string certPath = Path.Combine(dir, "server.pem");
        string keyPath = Path.Combine(dir, "server.key");
        File.WriteAllText(caPath, ca.ExportCertificatePem() + "\n");
        File.WriteAllText(certPath, cert.ExportCertificatePem() + "\n");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
        return (caPath, certPath, keyPath);
    }
}

/// <summary>
/// A token server for distribution's <c>auth: token:</c>: checks Basic credentials on a GET, or an OAuth2 refresh
/// token (<see cref="RefreshToken"/>) on a POST (anyone may pull, with no push), and signs JWTs (RS256, x5c header) that the registry verifies with
/// <see cref="CertificatePath"/>. Counts the tokens it issues; <see cref="ExpiredTokens"/> makes the next ones
/// already expired (a client must fetch a new one).
/// </summary>
public sealed class TestTokenServer : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly HttpListener _listener = new();
    private readonly RSA _key = RSA.Create(2048);
    private readonly X509Certificate2 _cert;
    private readonly string _user;
    private readonly string _password;
    private int _issued;

    public TestTokenServer(string user, string password)
    {
        _user = user;
        _password = password;
        var request = new CertificateRequest("CN=OciBundle test token issuer", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        _cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        CertificatePath = _dir.Combine("token.pem");
        File.WriteAllText(CertificatePath, _cert.ExportCertificatePem() + "\n");
        int port = TestRegistry.FreePort();
        Realm = $"http://127.0.0.1:{port}/token";
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _ = Task.Run(Serve);
    }

    public string Realm { get; }

    public string Service => "ocibundle-test-registry";

    public string Issuer => "ocibundle-test-issuer";

    public string CertificatePath { get; }

    public int Issued => _issued;

    /// <summary>A repository the user may pull from but not push to.</summary>
    public string? PullOnlyRepository { get; set; }

    /// <summary>The OAuth2 refresh token (docker's identitytoken) the server takes in a POST with grant_type=refresh_token; null: none.</summary>
    public string? RefreshToken { get; set; }

    /// <summary>The forms of the OAuth2 POSTs it got, as sent.</summary>
    public List<Dictionary<string, string>> OAuthForms { get; } = new();

    /// <summary>How many of the next tokens are issued already expired.</summary>
    public int ExpiredTokens { get; set; }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                Answer(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException)
            {
            }
        }
    }

    private void Answer(HttpListenerContext context)
    {
        string? auth = context.Request.Headers["Authorization"];
        bool authenticated;
        string[] scopes;
        bool oauth = context.Request.HttpMethod == "POST";
        if (oauth)
        {
            // OAuth2 (distribution's token spec, "oauth"): a form with grant_type=refresh_token; a refresh token that is not ours is invalid_grant (RFC 6749 5.2).
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var form = System.Web.HttpUtility.ParseQueryString(reader.ReadToEnd());
            lock (OAuthForms)
            {
                OAuthForms.Add(form.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => form[k]!));
            }

            if (form["grant_type"] != "refresh_token" || RefreshToken is null || form["refresh_token"] != RefreshToken || auth is not null)
            {
                byte[] refused = Encoding.UTF8.GetBytes("{\"error\":\"invalid_grant\",\"error_description\":\"refresh token not known\"}");
                context.Response.StatusCode = 400;
                context.Response.ContentType = "application/json";
                context.Response.OutputStream.Write(refused);
                context.Response.Close();
                return;
            }

            authenticated = true;
            scopes = (form["scope"] ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        }
        else
        {
            authenticated = auth is not null && auth.StartsWith("Basic ", StringComparison.Ordinal)
                && Encoding.UTF8.GetString(Convert.FromBase64String(auth[6..])) == $"{_user}:{_password}";
            if (auth is not null && !authenticated)
            {
                context.Response.StatusCode = 401;
                context.Response.Close();
                return;
            }

            scopes = (context.Request.QueryString.GetValues("scope") ?? Array.Empty<string>()).SelectMany(s => s.Split(' ')).ToArray();
        }

        var access = new JArray();
        foreach (string scope in scopes)
        {
            string[] parts = scope.Split(':');
            if (parts.Length == 3 && parts[0] == "repository")
            {
                string[] actions = parts[2].Split(',').Where(a => (authenticated && parts[1] != PullOnlyRepository) || a == "pull").ToArray();
                access.Add(new JObject { ["type"] = "repository", ["name"] = parts[1], ["actions"] = new JArray(actions) });
            }
        }

        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        bool expired = ExpiredTokens > 0;
        if (expired)
        {
            ExpiredTokens--;
        }

        var header = new JObject { ["typ"] = "JWT", ["alg"] = "RS256", ["x5c"] = new JArray(Convert.ToBase64String(_cert.RawData)) };
        var claims = new JObject
        {
            ["iss"] = Issuer,
            ["sub"] = authenticated ? _user : "",
            ["aud"] = Service,
            ["exp"] = expired ? now - 600 : now + 300,
            ["nbf"] = now - 700,
            ["iat"] = now - 700,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = access,
        };
        string signingInput = B64(Encoding.UTF8.GetBytes(header.ToString(Newtonsoft.Json.Formatting.None))) + "." + B64(Encoding.UTF8.GetBytes(claims.ToString(Newtonsoft.Json.Formatting.None)));
        string jwt = signingInput + "." + B64(_key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        Interlocked.Increment(ref _issued);
        // OAuth2 answers access_token (and may hand out a new refresh token); the GET flow answers token.
        byte[] body = Encoding.UTF8.GetBytes((oauth ? new JObject { ["access_token"] = jwt, ["expires_in"] = 300, ["refresh_token"] = RefreshToken, ["scope"] = string.Join(" ", scopes) } : new JObject { ["token"] = jwt, ["expires_in"] = 300 }).ToString());
        context.Response.ContentType = "application/json";
        context.Response.OutputStream.Write(body);
        context.Response.Close();
    }

    private static string B64(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _cert.Dispose();
        _key.Dispose();
        _dir.Dispose();
    }
}
