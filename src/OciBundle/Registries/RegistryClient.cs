using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;

namespace OciBundle.Registries;

/// <summary>
/// One repository of one registry over the OCI distribution API: the auth handshake (anonymous, Basic, Bearer
/// tokens from the <c>WWW-Authenticate</c> realm, cached per scope), retries with backoff on 429, 5xx and dropped
/// connections, and every failure as a coded error naming the registry and the repository. Thread-safe: blobs go
/// up in parallel through one client.
/// </summary>
internal sealed class RegistryClient : IDisposable
{
    private const int Attempts = 4;

    /// <summary>How many times the request of a response was sent, for "after N attempts".</summary>
    private static readonly HttpRequestOptionsKey<int> AttemptsKey = new("OciBundle.Attempts");

    private readonly HttpClient _http;
    private readonly RegistryCredentials? _credentials;
    private readonly string _lookedFor;
    private readonly Action<string> _log;
    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);
    private volatile bool _basic;
    private int _requests;

    /// <param name="registry">host[:port].</param>
    /// <param name="repository">The repository pushed to.</param>
    /// <param name="plainHttp">Plain HTTP (a registry listed as insecure), else HTTPS with the system trust store.</param>
    /// <param name="credentials">Null: anonymous.</param>
    /// <param name="lookedFor">Where credentials were looked for when none were found, for the message.</param>
    /// <param name="log">Receives one low-importance line per request (method, path, status), never a header.</param>
    /// <param name="handler">For tests; null: a <see cref="SocketsHttpHandler"/>.</param>
    public RegistryClient(string registry, string repository, bool plainHttp, RegistryCredentials? credentials, string lookedFor, Action<string> log, HttpMessageHandler? handler = null)
    {
        Registry = registry;
        Repository = repository;
        _credentials = credentials;
        _lookedFor = lookedFor;
        _log = log;
        BaseUri = new Uri($"{(plainHttp ? "http" : "https")}://{registry}/v2/");
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(15),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AllowAutoRedirect = false, // followed in SendAsync (RegistryRedirect), which makes the body again for each hop
            MaxConnectionsPerServer = 8,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan, // each request has its own deadline (HeaderTimeout, BodyTimeout)
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("OciBundle.Sdk", typeof(RegistryClient).Assembly.GetName().Version?.ToString(3) ?? "1.0.0"));
    }

    public string Registry { get; }

    public string Repository { get; }

    public Uri BaseUri { get; }

    /// <summary>Requests sent so far, token requests and retries included.</summary>
    public int Requests => _requests;

    /// <summary>The most of an error or token answer read: a larger one is cut there.</summary>
    public const int MaxAnswerBytes = 1 << 20;

    /// <summary>How long a request waits for the answer's headers, plus a second per 64 KiB it uploads (tests make it short).</summary>
    public TimeSpan HeaderTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>How long reading an error or token answer may take (tests make it short).</summary>
    public TimeSpan BodyTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long to wait before attempt n+1 (tests make it short).</summary>
    public Func<int, TimeSpan> Backoff { get; init; } = DefaultBackoff;

    /// <summary>0.5 s, 1 s, 2 s, ...</summary>
    public static TimeSpan DefaultBackoff(int attempt) => TimeSpan.FromMilliseconds(500 * (1 << attempt));

    public static string PushScope(string repository) => $"repository:{repository}:pull,push";

    public Uri Url(string relative) => new(BaseUri, relative);

    /// <summary>
    /// Sends a request made by <paramref name="make"/> (called again for each attempt and each redirect, so a body is
    /// made afresh, never read twice), authenticating for <paramref name="scope"/> as the registry asks. Follows
    /// redirects as <see cref="RegistryRedirect"/> says; retries 429, 5xx and dropped connections (from the first
    /// address again); returns any other answer for the caller to judge (<see cref="Fail"/>).
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> make, string scope, CancellationToken cancel, bool retry = true)
    {
        int answered = 0, redirects = 0;
        Uri? redirected = null;
        for (int attempt = 0; ; attempt++)
        {
            HttpResponseMessage response;
            HttpRequestMessage request = make();
            if (redirected is not null)
            {
                request.RequestUri = redirected;
            }

            try
            {
                Authorize(request, scope);
                response = await Send(request, cancel).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (IsTls(e))
            {
                throw new OciBundleException(Strings.RegistryTlsFailed, Registry, Describe(e));
            }
            catch (TimeoutException e)
            {
                // Not retried: a registry that did not answer in HeaderTimeout is not expected to on the next try.
                throw new OciBundleException(Strings.RegistryUnreachable, e, Registry, Repository, $"{request.Method} {request.RequestUri?.AbsolutePath}: {e.Message}");
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is TaskCanceledException && !cancel.IsCancellationRequested))
            {
                if (!retry || attempt + 1 >= Attempts)
                {
                    throw new OciBundleException(Strings.RegistryUnreachable, Registry, Repository, $"{request.Method} {request.RequestUri?.AbsolutePath}: {Describe(e)}" + (attempt > 0 ? $" ({attempt + 1} attempts)" : ""));
                }

                _log($"{request.Method} {request.RequestUri?.AbsolutePath}: {Describe(e)}; retrying");
                (redirected, redirects) = (null, 0);
                await Task.Delay(Backoff(attempt), cancel).ConfigureAwait(false);
                continue;
            }

            if (RegistryRedirect.IsRedirect(response.StatusCode))
            {
                using (response)
                {
                    redirected = RegistryRedirect.Target(this, request, response, ++redirects);
                }

                _log($"{request.Method} {RegistryRedirect.Shown(request.RequestUri)}: {(int)response.StatusCode}, sent again to {RegistryRedirect.Shown(redirected)}{(IsRegistry(redirected) ? "" : ", which gets no credentials")}");
                attempt--;
                continue;
            }

            if (response.StatusCode == HttpStatusCode.Unauthorized && answered < 2 && response.Headers.WwwAuthenticate.FirstOrDefault() is { } challenge)
            {
                // A 401: answer the challenge and send again; twice, so a token that expired (or that a skewed clock
                // made expired) is replaced once more before the refusal stands.
                answered++;
                string? reason = (await ReadErrors(response, cancel).ConfigureAwait(false)).FirstOrDefault().Code;
                bool sentBasic = request.Headers.Authorization?.Scheme == "Basic";
                response.Dispose();
                await Authenticate(challenge, scope, reason, sentBasic, cancel).ConfigureAwait(false);
                attempt--;
                continue;
            }

            if (retry && IsRetryable(response) && attempt + 1 < Attempts)
            {
                TimeSpan wait = RetryWait(response, attempt);
                _log($"{request.Method} {request.RequestUri?.AbsolutePath}: {(int)response.StatusCode}; retrying in {wait.TotalSeconds:F1} s");
                (redirected, redirects) = (null, 0);
                response.Dispose();
                await Task.Delay(wait, cancel).ConfigureAwait(false);
                continue;
            }

            request.Options.Set(AttemptsKey, attempt + 1);
            return response;
        }
    }

    /// <summary>A 429 or a 5xx: the registry may answer otherwise when asked again.</summary>
    public static bool IsRetryable(HttpResponseMessage response) => (int)response.StatusCode == 429 || (int)response.StatusCode >= 500;

    /// <summary>The longest Retry-After waited for: a build does not sit out a registry's maintenance window.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long to wait before asking again after <paramref name="response"/>: its Retry-After (seconds, or an HTTP
    /// date) when that is under <see cref="MaxRetryAfter"/>, else <see cref="Backoff"/> of <paramref name="attempt"/>.
    /// </summary>
    public TimeSpan RetryWait(HttpResponseMessage response, int attempt)
    {
        TimeSpan? asked = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };
        return asked is { } wait && wait < MaxRetryAfter ? (wait < TimeSpan.Zero ? TimeSpan.Zero : wait) : Backoff(attempt);
    }

    /// <summary>One request, its headers awaited for <see cref="HeaderTimeout"/> (a <see cref="TimeoutException"/> after), the build's cancellation honoured.</summary>
    private async Task<HttpResponseMessage> Send(HttpRequestMessage request, CancellationToken cancel)
    {
        Interlocked.Increment(ref _requests);
        TimeSpan limit = HeaderTimeout + TimeSpan.FromSeconds((request.Content?.Headers.ContentLength ?? 0) / 65536.0);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(limit);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"no answer within {limit.TotalSeconds:F0} s"));
        }

        _log($"{request.Method} {request.RequestUri?.PathAndQuery} -> {(int)response.StatusCode}");
        return response;
    }

    /// <summary>
    /// An error or token answer's body: at most <see cref="MaxAnswerBytes"/> (the rest is not read), within
    /// <see cref="BodyTimeout"/> (a <see cref="TimeoutException"/> after); the build's cancellation honoured.
    /// </summary>
    public async Task<string> ReadAnswer(HttpResponseMessage response, CancellationToken cancel)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(BodyTimeout);
        try
        {
            using Stream stream = await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false);
            using var answer = new MemoryStream();
            byte[] buffer = new byte[16384];
            while (answer.Length < MaxAnswerBytes)
            {
                int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, MaxAnswerBytes - answer.Length)), deadline.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                answer.Write(buffer, 0, n);
            }

            return System.Text.Encoding.UTF8.GetString(answer.GetBuffer(), 0, (int)answer.Length);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"its answer did not arrive within {BodyTimeout.TotalSeconds:F0} s"));
        }
    }

    /// <summary>
    /// Whether <paramref name="uri"/> is the registry's own endpoint (scheme, host and port), the only place its
    /// credentials and tokens go, as docker's authorizer has it: an upload continuing at blob storage goes without.
    /// </summary>
    public bool IsRegistry(Uri? uri) =>
        uri is { IsAbsoluteUri: true }
        && uri.Scheme.Equals(BaseUri.Scheme, StringComparison.OrdinalIgnoreCase)
        && uri.IdnHost.Equals(BaseUri.IdnHost, StringComparison.OrdinalIgnoreCase)
        && uri.Port == BaseUri.Port;

    /// <summary>
    /// Where an upload goes on (the <c>Location</c> of a POST or PATCH), made absolute against the URL that answered
    /// (RFC 9110 10.2.2: an upload host's relative Location names a place on that host, not on the registry): an
    /// http(s) address, never a downgrade from the registry's TLS to plain http; another host (blob storage) gets no
    /// credentials (<see cref="IsRegistry"/>).
    /// </summary>
    public Uri UploadLocation(HttpResponseMessage response, string answer)
    {
        Uri location = response.Headers.Location!;
        Uri target = location.IsAbsoluteUri ? location : new Uri(response.RequestMessage?.RequestUri ?? BaseUri, location);
        string? why = target.Scheme is not ("http" or "https") ? $"is a {target.Scheme}: address, not http or https"
            : BaseUri.Scheme == "https" && target.Scheme == "http" ? "is plain http while the registry speaks TLS (a downgrade: the image would travel in the clear)"
            : null;
        if (why is not null)
        {
            throw new OciBundleException(Strings.RegistryLocationRefused, Registry, Repository, Shown(target), answer, why);
        }

        if (!IsRegistry(target))
        {
            _log($"{answer}: the upload goes on at {target.GetLeftPart(UriPartial.Authority)}, which gets no credentials");
        }

        return target;
    }

    /// <summary>An address for a message: no user info, query (a presigned URL's signature) or fragment.</summary>
    private static string Shown(Uri uri)
    {
        try
        {
            return new UriBuilder(uri) { UserName = "", Password = "", Query = "", Fragment = "" }.Uri.GetLeftPart(UriPartial.Path);
        }
        catch (UriFormatException)
        {
            return uri.Scheme + ":";
        }
    }

    private void Authorize(HttpRequestMessage request, string scope)
    {
        if (!IsRegistry(request.RequestUri))
        {
            return; // credentials and tokens never leave for another scheme, host or port
        }

        if (_tokens.TryGetValue(scope, out var token) && token.Expires > DateTimeOffset.UtcNow)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Token);
        }
        else if (_basic && _credentials is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", _credentials.BasicHeader());
        }
    }

    /// <summary>Answers a <c>WWW-Authenticate</c> challenge: Basic with the credentials, or a Bearer token from the realm for the scope.</summary>
    private async Task Authenticate(AuthenticationHeaderValue challenge, string scope, string? reason, bool sentBasic, CancellationToken cancel)
    {
        if (challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            if (_credentials is null)
            {
                throw new OciBundleException(Strings.RegistryNeedsCredentials, Registry, Repository, _lookedFor);
            }

            // Refused only when this very request carried them: a request sent in parallel before Basic was known retries with them.
            if (sentBasic)
            {
                throw new OciBundleException(Strings.RegistryCredentialsRefused, Registry, Repository, _credentials.Source, "401 Unauthorized");
            }

            _basic = true;
            return;
        }

        if (!challenge.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            throw new OciBundleException(Strings.RegistryFailed, Registry, Repository, "401", $"it asks for {challenge.Scheme} authentication, which is neither Basic nor Bearer", "");
        }

        Dictionary<string, string> p = ChallengeParameters(challenge.Parameter ?? "");
        if (!p.TryGetValue("realm", out string? realm) || !Uri.TryCreate(realm, UriKind.Absolute, out Uri? realmUri) || realmUri.Scheme is not ("http" or "https"))
        {
            throw new OciBundleException(Strings.TokenServerFailed, realm ?? "(none)", Registry, scope, "the challenge names no http(s) realm", _credentials?.Source ?? "none: anonymous");
        }

        if (realmUri.Scheme == "http" && BaseUri.Scheme == "https")
        {
            // The token request carries the password (or refresh token): never in the clear from a TLS registry.
            throw new OciBundleException(Strings.TokenServerFailed, Shown(realmUri), Registry, scope, "the realm is plain http while the registry speaks TLS, so the push sends it nothing (the credentials would cross the network in the clear); the registry's token service must be https", _credentials?.Source ?? "none: anonymous");
        }

        if (realmUri.Scheme == "http" && _credentials is not null && !realmUri.IdnHost.Equals(BaseUri.IdnHost, StringComparison.OrdinalIgnoreCase))
        {
            throw new OciBundleException(Strings.TokenServerFailed, Shown(realmUri), Registry, scope, "the realm is plain http on another host than the registry, so the push sends it no credentials; use an https token service (or one on the registry's own host)", _credentials.Source);
        }

        if (_tokens.TryGetValue(scope, out var old) && reason == "insufficient_scope" && old.Expires > DateTimeOffset.UtcNow)
        {
            // A fresh token that still lacks the rights: the account may not push here.
            throw _credentials is null
                ? new OciBundleException(Strings.RegistryNeedsCredentials, Registry, Repository, _lookedFor)
                : new OciBundleException(Strings.RegistryDenied, Registry, Repository, "the token server grants no push (insufficient_scope)", _credentials.Source);
        }

        var scopes = scope.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (p.TryGetValue("scope", out string? asked))
        {
            scopes.AddRange(asked.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(s => !scopes.Contains(s, StringComparer.Ordinal)));
        }

        string query = string.Join("&", (p.TryGetValue("service", out string? service) ? new[] { "service=" + Uri.EscapeDataString(service) } : Array.Empty<string>())
            .Concat(scopes.Select(s => "scope=" + Uri.EscapeDataString(s))));
        HttpRequestMessage request;
        if (_credentials is { IsIdentityToken: true })
        {
            // OAuth2 refresh token (docker's identitytoken): POST to the realm.
            var form = new List<KeyValuePair<string, string>>
            {
                new("grant_type", "refresh_token"),
                new("refresh_token", _credentials.Secret),
                new("client_id", "ocibundle-sdk"),
                new("scope", string.Join(" ", scopes)),
            };
            if (service is not null)
            {
                form.Add(new("service", service));
            }

            request = new HttpRequestMessage(HttpMethod.Post, realmUri) { Content = new FormUrlEncodedContent(form) };
        }
        else
        {
            request = new HttpRequestMessage(HttpMethod.Get, new UriBuilder(realmUri) { Query = (realmUri.Query.TrimStart('?') is { Length: > 0 } q ? q + "&" : "") + query }.Uri);
            if (_credentials is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", _credentials.BasicHeader());
            }
        }

        HttpResponseMessage response;
        try
        {
            response = await SendToken(request, cancel).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException)
        {
            throw new OciBundleException(Strings.TokenServerFailed, Shown(realmUri), Registry, scope, Describe(e), _credentials?.Source ?? "none: anonymous");
        }

        using (response)
        {
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw _credentials is null
                    ? new OciBundleException(Strings.RegistryNeedsCredentials, Registry, Repository, _lookedFor)
                    : new OciBundleException(Strings.RegistryCredentialsRefused, Registry, Repository, _credentials.Source, $"its token server {Shown(realmUri)} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            string body;
            try
            {
                body = await ReadAnswer(response, cancel).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException)
            {
                throw new OciBundleException(Strings.TokenServerFailed, Shown(realmUri), Registry, scope, "its answer broke off: " + Describe(e), _credentials?.Source ?? "none: anonymous");
            }

            if (_credentials is { IsIdentityToken: true } && response.StatusCode == HttpStatusCode.BadRequest && OAuthError(body) is { } refusal && refusal is "invalid_grant" or "invalid_client" or "unauthorized_client")
            {
                // RFC 6749 5.2: the refresh token (revoked, expired, for another client) is what was refused.
                throw new OciBundleException(Strings.RegistryCredentialsRefused, Registry, Repository, _credentials.Source, $"its token server {Shown(realmUri)} refused the identity token: {refusal}");
            }

            string? token = null;
            double expiresIn = 60;
            if (response.IsSuccessStatusCode)
            {
                try
                {
                    if (JToken.Parse(body) is JObject answer)
                    {
                        token = Text(answer["token"]) ?? Text(answer["access_token"]);
                        expiresIn = answer["expires_in"] is JValue { Value: long l } ? l : answer["expires_in"] is JValue { Value: double d } && double.IsFinite(d) ? d : 60;
                    }
                }
                catch (JsonException)
                {
                }
            }

            if (string.IsNullOrEmpty(token))
            {
                throw new OciBundleException(Strings.TokenServerFailed, Shown(realmUri), Registry, scope, response.IsSuccessStatusCode ? "its answer holds no token" : $"{(int)response.StatusCode} {response.ReasonPhrase}", _credentials?.Source ?? "none: anonymous");
            }

            // Renewed a little before it runs out; a token that expires anyway gets a 401, answered once per request.
            _tokens[scope] = (token, DateTimeOffset.UtcNow.AddSeconds(Math.Clamp(expiresIn - 10, 5, 86400)));
        }
    }

    /// <summary>
    /// A token request, and for a GET the redirects of its realm, followed without the credentials (as HTTP clients
    /// do); the refresh token's POST is never redirected: it carries the secret in its body.
    /// </summary>
    private async Task<HttpResponseMessage> SendToken(HttpRequestMessage request, CancellationToken cancel)
    {
        HttpResponseMessage response = await Send(request, cancel).ConfigureAwait(false);
        for (int hops = 1; RegistryRedirect.IsRedirect(response.StatusCode) && request.Method == HttpMethod.Get; hops++)
        {
            using (response)
            {
                request = new HttpRequestMessage(HttpMethod.Get, RegistryRedirect.Target(this, request, response, hops));
            }

            response = await Send(request, cancel).ConfigureAwait(false);
        }

        return response;
    }

    /// <summary>The key=value pairs of a challenge: <c>realm="https://auth",service="registry",scope="repository:a:pull"</c>.</summary>
    internal static Dictionary<string, string> ChallengeParameters(string parameter)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        int i = 0;
        while (i < parameter.Length)
        {
            while (i < parameter.Length && (parameter[i] == ',' || char.IsWhiteSpace(parameter[i])))
            {
                i++;
            }

            int eq = parameter.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }

            string key = parameter[i..eq].Trim();
            i = eq + 1;
            string value;
            if (i < parameter.Length && parameter[i] == '"')
            {
                var sb = new System.Text.StringBuilder();
                for (i++; i < parameter.Length && parameter[i] != '"'; i++)
                {
                    if (parameter[i] == '\\' && i + 1 < parameter.Length)
                    {
                        i++;
                    }

                    sb.Append(parameter[i]);
                }

                i++;
                value = sb.ToString();
            }
            else
            {
                int end = parameter.IndexOf(',', i);
                value = (end < 0 ? parameter[i..] : parameter[i..end]).Trim();
                i = end < 0 ? parameter.Length : end;
            }

            result[key] = value;
        }

        return result;
    }

    /// <summary>The <c>error</c> of an OAuth2 error answer (<c>{"error": "invalid_grant"}</c>); null for any other body.</summary>
    private static string? OAuthError(string body)
    {
        try
        {
            return JToken.Parse(body) is JObject o ? Text(o["error"]) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A JSON string's value; null for anything else.</summary>
    private static string? Text(JToken? token) => token is JValue { Value: string s } ? s : null;

    /// <summary>
    /// The distribution API's error codes, messages and details in a response body (a detail that is a string, or an
    /// object's <c>digest</c>, as distribution names a missing blob); none when it has none, is of another shape, too
    /// slow or cut off.
    /// </summary>
    public async Task<List<(string Code, string Message, string Detail)>> ReadErrors(HttpResponseMessage response, CancellationToken cancel = default)
    {
        static string Cut(string? text) => text is null ? "" : text.Length > 300 ? text[..300] + "..." : text;
        try
        {
            string body = await ReadAnswer(response, cancel).ConfigureAwait(false);
            if (body.Length > 0 && JToken.Parse(body) is JObject o && o["errors"] is JArray errors)
            {
                return errors.OfType<JObject>()
                    .Select(e => (Text(e["code"]) ?? "", Cut(Text(e["message"])), Cut(Text(e["detail"]) ?? (e["detail"] is JObject d ? Text(d["digest"]) : null))))
                    .ToList();
            }
        }
        catch (Exception e) when (e is JsonException or HttpRequestException or IOException or TimeoutException)
        {
        }

        return new List<(string, string, string)>();
    }

    /// <summary>
    /// The coded error for an answer that is not the one expected; <c>attempts</c> says how many times the caller tried
    /// (a blob's upload, started afresh), null: as many as <see cref="SendAsync"/> sent the request.
    /// </summary>
    public async Task<OciBundleException> Fail(HttpResponseMessage response, string what, CancellationToken cancel = default, int? attempts = null)
    {
        int sent = attempts ?? (response.RequestMessage?.Options.TryGetValue(AttemptsKey, out int counted) == true ? counted : 1);
        List<(string Code, string Message, string Detail)> errors = await ReadErrors(response, cancel).ConfigureAwait(false);
        string codes = string.Join(", ", errors.Select(e => e.Message.Length > 0 ? $"{e.Code}: {e.Message}" : e.Code).Distinct(StringComparer.Ordinal));
        var blobs = errors.SelectMany(e => System.Text.RegularExpressions.Regex.Matches(e.Detail + " " + e.Message, "sha256:[0-9a-f]{64}")).Select(m => m.Value).Distinct(StringComparer.Ordinal).ToList();
        string detail = $"{what}: {(int)response.StatusCode} {response.ReasonPhrase}" + (codes.Length > 0 ? $", {codes}" : "");
        bool Has(params string[] names) => errors.Any(e => names.Contains(e.Code, StringComparer.Ordinal));
        string source = _credentials?.Source ?? "none: anonymous";
        return Has("NAME_INVALID") ? new OciBundleException(Strings.RegistryNameInvalid, Registry, Repository, detail)
            : Has("BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN") ? new OciBundleException(Strings.RegistryBlobUnknown, Registry, Repository, blobs.Count > 0 ? string.Join(" and ", blobs) : detail)
            : Has("MANIFEST_INVALID", "MANIFEST_UNVERIFIED", "TAG_INVALID", "UNSUPPORTED", "SIZE_INVALID", "DIGEST_INVALID") ? new OciBundleException(Strings.RegistryManifestInvalid, Registry, Repository, detail)
            : Has("DENIED") || response.StatusCode == HttpStatusCode.Forbidden ? new OciBundleException(Strings.RegistryDenied, Registry, Repository, detail, source)
            : response.StatusCode == HttpStatusCode.Unauthorized && _credentials is not null && response.Headers.WwwAuthenticate.Any(c => c.Parameter?.Contains("insufficient_scope", StringComparison.Ordinal) == true)
                ? new OciBundleException(Strings.RegistryDenied, Registry, Repository, detail + " (insufficient_scope)", source)
            : response.StatusCode == HttpStatusCode.Unauthorized ? (_credentials is null ? new OciBundleException(Strings.RegistryNeedsCredentials, Registry, Repository, _lookedFor) : new OciBundleException(Strings.RegistryCredentialsRefused, Registry, Repository, source, "401 Unauthorized"))
            : Has("NAME_UNKNOWN") || response.StatusCode == HttpStatusCode.NotFound ? new OciBundleException(Strings.RepositoryNotFound, Registry, Repository, detail)
            : new OciBundleException(Strings.RegistryFailed, Registry, Repository, ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), detail,
                sent > 1 ? string.Create(CultureInfo.InvariantCulture, $" after {sent} attempts") : "");
    }

    private static bool IsTls(HttpRequestException e) =>
        e.HttpRequestError == HttpRequestError.SecureConnectionError || e.InnerException is AuthenticationException;

    /// <summary>An exception's messages, outermost to innermost, without a stack trace.</summary>
    private static string Describe(Exception e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (!parts.Contains(x.Message, StringComparer.Ordinal))
            {
                parts.Add(x.Message);
            }
        }

        return string.Join(": ", parts);
    }

    public void Dispose() => _http.Dispose();
}
