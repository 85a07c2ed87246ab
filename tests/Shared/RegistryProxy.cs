using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace OciBundle.Testing;

/// <summary>One request as the proxy got it; a rule may change it before it goes on (its body, its content type).</summary>
public sealed class ProxiedRequest
{
    public required int Index { get; init; }
    public required string Method { get; init; }

    /// <summary>Path and query, as the client sent them (<c>/v2/team/app/blobs/uploads/?mount=...</c>).</summary>
    public required string PathAndQuery { get; init; }

    public string? ContentType { get; set; }

    /// <summary>The request's Authorization header as it arrived (null: none), to check what reached a host.</summary>
    public string? Authorization { get; init; }

    public byte[] Body { get; set; } = Array.Empty<byte>();

    public string Path => PathAndQuery.Split('?')[0];
}

/// <summary>What the proxy answers instead of the registry.</summary>
public sealed record ProxyAnswer(int Status, string Body = "", params (string Name, string Value)[] Headers)
{
    /// <summary>A distribution API error body: <c>{"errors":[{"code":...,"message":...}]}</c>.</summary>
    public static ProxyAnswer Error(int status, string code, string message, params (string Name, string Value)[] headers) =>
        new(status, "{\"errors\":[{\"code\":\"" + code + "\",\"message\":\"" + message + "\"}]}", headers);
}

/// <summary>
/// A misbehaving registry: an HTTP server on 127.0.0.1 and a free port in front of a real one (<see cref="TestRegistry"/>).
/// Each request is shown to <c>rule</c>, which answers it itself (a 503, a NAME_INVALID, a 201 for a blob never stored)
/// or lets it through, changed or not. Every request is recorded with when it came and what it was answered. Stopped
/// by <see cref="Dispose"/>: the listener this object started, nothing else.
/// </summary>
public sealed class RegistryProxy : IDisposable
{
    private static readonly HashSet<string> HopHeaders = new(StringComparer.OrdinalIgnoreCase) { "Host", "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Proxy-Connection", "Upgrade", "Expect" };

    private readonly HttpListener _listener = new();
    private readonly HttpClient _upstream = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(60) };
    private readonly string _upstreamHost;
    private readonly Func<ProxiedRequest, ProxyAnswer?> _rule;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task _serving;
    private int _count;

    /// <param name="upstream">host:port of the registry behind (plain HTTP).</param>
    /// <param name="rule">An answer to give instead of the registry's, or null to pass the request on.</param>
    /// <param name="address">The loopback address to listen on (127.0.0.2 is another host than 127.0.0.1 to a client).</param>
    public RegistryProxy(string upstream, Func<ProxiedRequest, ProxyAnswer?> rule, string address = "127.0.0.1")
    {
        _upstreamHost = upstream;
        _rule = rule;
        int port = TestRegistry.FreePort();
        Host = $"{address}:{port}";
        _listener.Prefixes.Add($"http://{address}:{port}/");
        _listener.Start();
        _serving = Task.Run(Serve);
    }

    /// <summary>host:port the client pushes to.</summary>
    public string Host { get; }

    /// <summary>The Host sent to the registry, which builds its Location headers from it; null: this proxy's (they lead back through it).</summary>
    public string? Advertise { get; init; }

    /// <summary>Rewrites the Location of each answer the registry gave (the request, the Location): to make it relative, say.</summary>
    public Func<ProxiedRequest, string, string>? RewriteLocation { get; init; }

    /// <summary>An Authorization header sent to the registry for requests that came without one (a storage host's own access).</summary>
    public string? UpstreamAuthorization { get; init; }

    /// <summary>Called once the registry answered a forwarded request with this status, before the client gets the answer.</summary>
    public Action<ProxiedRequest, int>? Answered { get; init; }

    /// <summary>Called when half of a forwarded request's body has gone to the registry (and been given 200 ms to arrive); the rest follows after.</summary>
    public Action<ProxiedRequest>? Halfway { get; init; }

    /// <summary>Every request: when it came (since the proxy started), method, path and query, and the status it got.</summary>
    public ConcurrentQueue<(TimeSpan At, string Method, string PathAndQuery, int Status)> Seen { get; } = new();

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => Handle(context));
        }
    }

    private async Task Handle(HttpListenerContext context)
    {
        TimeSpan at = _clock.Elapsed;
        int status = 0;
        try
        {
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body).ConfigureAwait(false);
            var request = new ProxiedRequest
            {
                Index = Interlocked.Increment(ref _count) - 1,
                Method = context.Request.HttpMethod,
                PathAndQuery = context.Request.RawUrl ?? "/",
                ContentType = context.Request.ContentType,
                Authorization = context.Request.Headers["Authorization"],
                Body = body.ToArray(),
            };
            ProxyAnswer? answer;
            lock (_rule)
            {
                answer = _rule(request);
            }

            status = answer is not null ? await Answer(context, answer).ConfigureAwait(false) : await Forward(context, request).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or HttpRequestException or ObjectDisposedException or TaskCanceledException)
        {
            status = -1;
            try
            {
                context.Response.Abort();
            }
            catch (ObjectDisposedException)
            {
            }
        }
        finally
        {
            Seen.Enqueue((at, context.Request.HttpMethod, context.Request.RawUrl ?? "/", status));
        }
    }

    private static async Task<int> Answer(HttpListenerContext context, ProxyAnswer answer)
    {
        HttpListenerResponse response = context.Response;
        response.StatusCode = answer.Status;
        foreach ((string name, string value) in answer.Headers)
        {
            response.AddHeader(name, value);
        }

        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(answer.Body);
        if (bytes.Length > 0)
        {
            response.ContentType = "application/json; charset=utf-8";
        }

        response.ContentLength64 = bytes.Length;
        if (context.Request.HttpMethod != "HEAD")
        {
            await response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        }

        response.Close();
        return answer.Status;
    }

    private async Task<int> Forward(HttpListenerContext context, ProxiedRequest request)
    {
        var message = new HttpRequestMessage(new HttpMethod(request.Method), $"http://{_upstreamHost}{request.PathAndQuery}");
        foreach (string? name in context.Request.Headers.AllKeys)
        {
            if (name is null || HopHeaders.Contains(name) || name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            message.Headers.TryAddWithoutValidation(name, context.Request.Headers.GetValues(name) ?? Array.Empty<string>());
        }

        // The registry builds its Location headers from Host: they lead back through the proxy.
        message.Headers.Host = Advertise ?? Host;
        if (request.Authorization is null && UpstreamAuthorization is not null)
        {
            message.Headers.TryAddWithoutValidation("Authorization", UpstreamAuthorization);
        }

        if (request.Body.Length > 0 || request.Method is "PUT" or "POST" or "PATCH")
        {
            message.Content = Halfway is null || request.Body.Length < 2 ? new ByteArrayContent(request.Body) : new SplitContent(request, Halfway);
            if (request.ContentType is not null)
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Type", request.ContentType);
            }

            if (context.Request.Headers["Content-Range"] is { } range)
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Range", range);
            }
        }

        using HttpResponseMessage answer = await _upstream.SendAsync(message, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
        Answered?.Invoke(request, (int)answer.StatusCode);
        HttpListenerResponse response = context.Response;
        response.StatusCode = (int)answer.StatusCode;
        foreach ((string name, IEnumerable<string> values) in answer.Headers.Concat(answer.Content.Headers))
        {
            if (!HopHeaders.Contains(name))
            {
                string value = string.Join(", ", values);
                response.AddHeader(name, RewriteLocation is not null && name.Equals("Location", StringComparison.OrdinalIgnoreCase) ? RewriteLocation(request, value) : value);
            }
        }

        byte[] bytes = await answer.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        if (request.Method == "HEAD")
        {
            // No body follows a HEAD: a length of 0 keeps HttpListener from waiting for one (the client reads only the headers).
            response.ContentLength64 = 0;
        }
        else
        {
            response.ContentLength64 = bytes.Length;
            await response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        }

        response.Close();
        return (int)answer.StatusCode;
    }

    /// <summary>A request body sent in two halves, <see cref="Halfway"/> called between them.</summary>
    private sealed class SplitContent(ProxiedRequest request, Action<ProxiedRequest> halfway) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            int half = request.Body.Length / 2;
            await stream.WriteAsync(request.Body.AsMemory(0, half)).ConfigureAwait(false);
            await stream.FlushAsync().ConfigureAwait(false);
            await Task.Delay(200).ConfigureAwait(false);
            halfway(request);
            await stream.WriteAsync(request.Body.AsMemory(half)).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = request.Body.Length;
            return true;
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        _upstream.Dispose();
    }
}
