using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Request;

namespace OciBundle.Registries;

/// <summary>A manifest or image index as the registry served it: its bytes (checked against the digest that names them), their digest and media type.</summary>
internal sealed record PulledDocument(string Digest, string MediaType, byte[] Content);

/// <summary>
/// Reads one image of a repository over the distribution API, with the push's own client (<see cref="RegistryClient"/>:
/// credentials from docker's places and helpers, Basic and Bearer tokens for the pull scope, TLS or the insecure list's
/// plain HTTP, retries, redirects by <see cref="RegistryRedirect"/>'s rules, so a blob may come from storage that gets no
/// credentials). Every answer is hostile until checked: a manifest is read up to <see cref="MaxDocumentBytes"/> and
/// must hash to the digest asked for; a blob is written only up to the size its descriptor declares and must hash to
/// its digest. The client's errors, worded for a push, are said again as the sysroot's own codes.
/// </summary>
internal sealed class ImagePuller : IDisposable
{
    /// <summary>The largest manifest, index or config read (as for a layout's documents).</summary>
    public const int MaxDocumentBytes = 4 << 20;

    /// <summary>The media types a manifest request accepts: OCI and Docker v2, images and indexes.</summary>
    public static readonly string[] ManifestMediaTypes =
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    };

    private readonly RegistryClient _client;
    private readonly RegistryCredentials? _credentials;
    private readonly string _source;
    private readonly string _scope;

    /// <param name="reference">The image.</param>
    /// <param name="plainHttp">The registry is listed as insecure.</param>
    /// <param name="source">How errors name the sysroot (<c>docker://...</c>).</param>
    /// <param name="environment">Where credentials are looked for (with docker's config.json and helpers).</param>
    /// <param name="log">Low-importance lines: one per request, never a header.</param>
    /// <param name="cancel">Stops a credential helper that does not answer.</param>
    /// <param name="handler">For tests; null: the client's own.</param>
    public ImagePuller(ImageReference reference, bool plainHttp, string source, Func<string, string?> environment, Action<string> log, CancellationToken cancel, HttpMessageHandler? handler = null)
    {
        _source = source;
        _credentials = CredentialLookup.Find(reference.Registry, environment, log, out string looked, cancel);
        log(_credentials is null ? $"no credentials for {reference.Registry} ({looked}): anonymous" : $"{reference.Registry}: {_credentials}");
        _client = new RegistryClient(reference.ApiHost, reference.Repository, plainHttp, _credentials, looked, log, handler);
        _scope = $"repository:{reference.Repository}:pull";
    }

    /// <summary>What an unreachable registry's error says of the cache (a pinned build's way to work offline).</summary>
    public string CacheState { get; set; } = "";

    /// <summary>The manifest or index <paramref name="reference"/> (a tag or a digest) names; when <paramref name="digest"/> is given, its bytes must have it.</summary>
    public PulledDocument Document(string reference, string? digest, CancellationToken cancel) => Run(() => DocumentAsync(reference, digest, cancel));

    /// <summary>The blob <paramref name="digest"/> into a new file <paramref name="path"/>: <paramref name="size"/> bytes that hash to the digest.</summary>
    public Task BlobAsync(string digest, long size, string path, CancellationToken cancel) => Mapped(() => BlobCore(digest, size, path, cancel));

    private async Task<PulledDocument> DocumentAsync(string reference, string? digest, CancellationToken cancel)
    {
        return await Mapped(async () =>
        {
            string what = $"GET manifest {reference}";
            using HttpResponseMessage response = await _client.SendAsync(() =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, _client.Url($"{_client.Repository}/manifests/{reference}"));
                foreach (string type in ManifestMediaTypes)
                {
                    request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
                }

                return request;
            }, _scope, cancel).ConfigureAwait(false);
            await Check(response, what, reference, cancel).ConfigureAwait(false);
            if (response.Content.Headers.ContentLength > MaxDocumentBytes)
            {
                throw Unsupported(what, $"a document of {response.Content.Headers.ContentLength} bytes, larger than a manifest can be ({MaxDocumentBytes})");
            }

            byte[] content = await ReadCapped(response, what, cancel).ConfigureAwait(false);
            string actual = "sha256:" + Convert.ToHexString(SHA256.HashData(content)).ToLowerInvariant();
            if (digest is not null && actual != digest)
            {
                throw new OciBundleException(Strings.SysrootRegistryContentMismatch, _source, _client.Registry, what, $"its digest is {actual}, not {digest}");
            }

            return new PulledDocument(actual, MediaTypeOf(content, response.Content.Headers.ContentType?.MediaType, what), content);
        }).ConfigureAwait(false);
    }

    /// <summary>The document's media type: one of <see cref="ManifestMediaTypes"/>, from its own mediaType or the answer's Content-Type; anything else is refused.</summary>
    private string MediaTypeOf(byte[] content, string? contentType, string what)
    {
        JObject document;
        try
        {
            document = JObject.Parse(System.Text.Encoding.UTF8.GetString(content));
        }
        catch (JsonException e)
        {
            throw Unsupported(what, "a document that is not a JSON object: " + e.Message);
        }

        string type = document["mediaType"] is JValue { Value: string own } ? own : contentType ?? "";
        if (document["schemaVersion"] is not JValue { Value: 2L } || !ManifestMediaTypes.Contains(type, StringComparer.Ordinal))
        {
            throw Unsupported(what, $"a manifest of schema version {document["schemaVersion"]} and media type '{type}' (Docker schema 1, or not a manifest)");
        }

        return type;
    }

    private async Task BlobCore(string digest, long size, string path, CancellationToken cancel)
    {
        string what = $"GET blob {digest}";
        using HttpResponseMessage response = await _client.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, _client.Url($"{_client.Repository}/blobs/{digest}")), _scope, cancel).ConfigureAwait(false);
        await Check(response, what, null, cancel).ConfigureAwait(false);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long written = 0;
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        using (Stream body = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false))
        {
            byte[] buffer = new byte[1 << 16];
            while (true)
            {
                int n = await ReadWithin(body, buffer, what, cancel).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                if (written + n > size)
                {
                    throw new OciBundleException(Strings.SysrootRegistryContentMismatch, _source, _client.Registry, what, string.Create(CultureInfo.InvariantCulture, $"it sent more than the {size} bytes the manifest declares"));
                }

                hash.AppendData(buffer, 0, n);
                await file.WriteAsync(buffer.AsMemory(0, n), cancel).ConfigureAwait(false);
                written += n;
            }
        }

        string actual = "sha256:" + Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
        if (written != size || actual != digest)
        {
            throw new OciBundleException(Strings.SysrootRegistryContentMismatch, _source, _client.Registry, what,
                written != size ? string.Create(CultureInfo.InvariantCulture, $"it sent {written} bytes, the manifest declares {size}") : $"its digest is {actual}");
        }
    }

    /// <summary>One read of an answer's body, which must bring something within the client's body timeout (a registry that stalls is unreachable).</summary>
    private async Task<int> ReadWithin(Stream body, byte[] buffer, string what, CancellationToken cancel)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(_client.BodyTimeout);
        try
        {
            return await body.ReadAsync(buffer, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            throw new OciBundleException(Strings.RegistryUnreachable, _client.Registry, _client.Repository, string.Create(CultureInfo.InvariantCulture, $"{what}: no data for {_client.BodyTimeout.TotalSeconds:F0} s"));
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new OciBundleException(Strings.RegistryUnreachable, _client.Registry, _client.Repository, $"{what}: {e.Message}");
        }
    }

    private async Task<byte[]> ReadCapped(HttpResponseMessage response, string what, CancellationToken cancel)
    {
        using Stream body = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false);
        using var content = new MemoryStream();
        byte[] buffer = new byte[1 << 16];
        int n;
        while ((n = await ReadWithin(body, buffer, what, cancel).ConfigureAwait(false)) > 0)
        {
            if (content.Length + n > MaxDocumentBytes)
            {
                throw Unsupported(what, $"a document larger than a manifest can be ({MaxDocumentBytes} bytes)");
            }

            content.Write(buffer, 0, n);
        }

        return content.ToArray();
    }

    /// <summary>An answer that is not a 200: a 404 says which of repository and tag is unknown; the rest as the client judges them.</summary>
    private async Task Check(HttpResponseMessage response, string what, string? reference, CancellationToken cancel)
    {
        if (response.StatusCode == HttpStatusCode.OK)
        {
            return;
        }

        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            List<(string Code, string Message, string Detail)> errors = await _client.ReadErrors(response, cancel).ConfigureAwait(false);
            string detail = $"{what}: 404" + string.Concat(errors.Select(e => $", {e.Code}: {e.Message}"));
            if (reference is null)
            {
                throw new OciBundleException(Strings.SysrootPullFailed, _source, $"registry {_client.Registry} answered {detail}: a blob the manifest names is missing");
            }

            // distribution answers MANIFEST_UNKNOWN for a repository it does not have too: its tag list tells them apart.
            string? tags = errors.Any(e => e.Code == "NAME_UNKNOWN") ? null : await Tags(cancel).ConfigureAwait(false);
            if (tags is null)
            {
                throw new OciBundleException(Strings.SysrootRepositoryNotFound, _source, _client.Registry, _client.Repository, detail);
            }

            throw new OciBundleException(Strings.SysrootRegistryTagNotFound, _source, _client.Registry, _client.Repository, reference, detail + tags);
        }

        throw await _client.Fail(response, what, cancel).ConfigureAwait(false);
    }

    /// <summary>
    /// What the repository's tag list says after a manifest's 404: null when the repository is unknown (a 404), else
    /// the first tags it has (empty when the registry does not list them).
    /// </summary>
    private async Task<string?> Tags(CancellationToken cancel)
    {
        using HttpResponseMessage response = await _client.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, _client.Url($"{_client.Repository}/tags/list?n=20")), _scope, cancel).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        try
        {
            return response.IsSuccessStatusCode && JToken.Parse(await _client.ReadAnswer(response, cancel).ConfigureAwait(false)) is JObject { } list && list["tags"] is JArray { Count: > 0 } names
                ? "; it has the tags " + string.Join(", ", names.Take(20).Select(t => t is JValue { Value: string tag } && ImageName.IsTag(tag) ? tag : "?"))
                : "";
        }
        catch (Exception e) when (e is JsonException or HttpRequestException or IOException or TimeoutException)
        {
            return "";
        }
    }

    private OciBundleException Unsupported(string what, string why) => new(Strings.SysrootRegistryManifestUnsupported, _source, _client.Registry, what, why);

    private static T Run<T>(Func<Task<T>> run) => run().GetAwaiter().GetResult();

    private Task Mapped(Func<Task> run) => Mapped(async () =>
    {
        await run().ConfigureAwait(false);
        return true;
    });

    /// <summary>The client's errors that speak of a push, said as a pull's; the others (TLS, token server, a registry's 5xx) as they are.</summary>
    private async Task<T> Mapped<T>(Func<Task<T>> run)
    {
        try
        {
            return await run().ConfigureAwait(false);
        }
        catch (OciBundleException e) when (Pulled(e) is { } said)
        {
            throw said;
        }
    }

    private OciBundleException? Pulled(OciBundleException e)
    {
        string registry = _client.Registry;
        string credentials = _credentials?.Source ?? "none: anonymous";
        object? Arg(int i) => i < e.Args.Count ? e.Args[i] : "";
        return e.Diagnostic == Strings.RegistryUnreachable ? new OciBundleException(Strings.SysrootRegistryUnreachable, e, _source, registry, Arg(2), CacheState)
            : e.Diagnostic == Strings.RegistryNeedsCredentials ? new OciBundleException(Strings.SysrootRegistryNeedsCredentials, e, _source, registry, Arg(2))
            : e.Diagnostic == Strings.RegistryCredentialsRefused ? new OciBundleException(Strings.SysrootRegistryCredentialsRefused, e, _source, registry, credentials, Arg(3))
            : e.Diagnostic == Strings.RegistryDenied ? new OciBundleException(Strings.SysrootRegistryDenied, e, _source, registry, Arg(2), credentials)
            : e.Diagnostic == Strings.RepositoryNotFound ? new OciBundleException(Strings.SysrootRepositoryNotFound, e, _source, registry, _client.Repository, Arg(2))
            : e.Diagnostic == Strings.RegistryRedirected || e.Diagnostic == Strings.RegistryBlobUnknown || e.Diagnostic == Strings.RegistryNameInvalid
                ? new OciBundleException(Strings.SysrootPullFailed, e, _source, $"{e.Code}: {e.Message}")
            : null;
    }

    public void Dispose() => _client.Dispose();
}
