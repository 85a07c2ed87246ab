using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using OciBundle.Diagnostics;

namespace OciBundle.Registries;

/// <summary>
/// One repository of one registry over the OCI distribution API: the transport (deadlines, redirects by
/// <see cref="RegistryRedirect"/>'s rules, retries with backoff on 429, 5xx and dropped connections), with the auth
/// handshake in <see cref="RegistryAuth"/> and what refusals mean in <see cref="RegistryErrors"/>: every failure a
/// coded error naming the registry and the repository. The blob and manifest operations are the callers'
/// (<see cref="ImagePusher"/>). Thread-safe: blobs go up in parallel through one client.
/// </summary>
internal sealed class RegistryClient : IDisposable
{
    private const int Attempts = 4;

    /// <summary>How many times the request of a response was sent, for "after N attempts".</summary>
    private static readonly HttpRequestOptionsKey<int> AttemptsKey = new("OciBundle.Attempts");

    private readonly HttpClient _http;
    private readonly Action<string> _log;
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
        _log = log;
        BaseUri = new Uri($"{(plainHttp ? "http" : "https")}://{registry}/v2/");
        Auth = new RegistryAuth(this, credentials, lookedFor);
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

    /// <summary>The auth handshake: what each request carries, and the answers to the registry's challenges.</summary>
    public RegistryAuth Auth { get; }

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
                Auth.Authorize(request, scope);
                response = await SendOnce(request, cancel).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (RegistryErrors.IsTls(e))
            {
                throw new OciBundleException(Strings.RegistryTlsFailed, Registry, RegistryErrors.Describe(e));
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
                    throw new OciBundleException(Strings.RegistryUnreachable, Registry, Repository, $"{request.Method} {request.RequestUri?.AbsolutePath}: {RegistryErrors.Describe(e)}" + (attempt > 0 ? $" ({attempt + 1} attempts)" : ""));
                }

                _log($"{request.Method} {request.RequestUri?.AbsolutePath}: {RegistryErrors.Describe(e)}; retrying");
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
                await Auth.Answer(challenge, scope, reason, sentBasic, cancel).ConfigureAwait(false);
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

    /// <summary>One request, sent once as it is (no auth, retry or redirect), its headers awaited for <see cref="HeaderTimeout"/> (a <see cref="TimeoutException"/> after), the build's cancellation honoured.</summary>
    internal async Task<HttpResponseMessage> SendOnce(HttpRequestMessage request, CancellationToken cancel)
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
            throw new OciBundleException(Strings.RegistryLocationRefused, Registry, Repository, RegistryRedirect.Shown(target), answer, why);
        }

        if (!IsRegistry(target))
        {
            _log($"{answer}: the upload goes on at {target.GetLeftPart(UriPartial.Authority)}, which gets no credentials");
        }

        return target;
    }

    /// <summary>
    /// The distribution API's error codes, messages and details in a response body (a detail that is a string, or an
    /// object's <c>digest</c>, as distribution names a missing blob); none when it has none, is of another shape, too
    /// slow or cut off.
    /// </summary>
    public async Task<List<(string Code, string Message, string Detail)>> ReadErrors(HttpResponseMessage response, CancellationToken cancel = default)
    {
        try
        {
            return RegistryErrors.Parse(await ReadAnswer(response, cancel).ConfigureAwait(false));
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException)
        {
            return new List<(string, string, string)>();
        }
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
        string detail = $"{what}: {(int)response.StatusCode} {response.ReasonPhrase}" + (codes.Length > 0 ? $", {codes}" : "");
        return RegistryErrors.Classify(this, response, errors, detail, sent);
    }

    public void Dispose() => _http.Dispose();
}
