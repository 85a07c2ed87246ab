using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using OciBundle.Diagnostics;
using OciBundle.Request;

namespace OciBundle.Registries;

/// <summary>What a push did, for the summary line and for tests.</summary>
internal sealed record PushResult(
    string Reference,
    string ManifestDigest,
    bool UpToDate,
    int BlobsUploaded,
    long BytesUploaded,
    int BlobsPresent,
    int BlobsMounted,
    int Requests,
    TimeSpan Elapsed);

/// <summary>
/// Pushes an image layout to a registry over the OCI distribution API: each tag's manifest is asked for first (a
/// registry that already has this digest under every tag gets nothing more); each blob is asked for with HEAD and
/// skipped when there, mounted from another repository of the registry this project pushed it to, or uploaded
/// (monolithic when small, in chunks when large), a few at a time; the manifests go last, so a push cut off
/// halfway leaves no tag pointing at a partial image and the next one uploads only what is missing.
/// </summary>
internal static class ImagePusher
{
    /// <summary>Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size.</summary>
    public const int DefaultChunkSize = 8 << 20;

    private const int Parallel = 3;

    /// <summary>
    /// Pushes <paramref name="spec"/>. Tests pass a <c>handler</c>, a small <c>chunkSize</c> (the blob size above which
    /// uploads go in PATCH chunks) or a short <c>backoff</c> (the wait before attempt n+1 when the registry gives no
    /// Retry-After; null: the client's own).
    /// </summary>
    public static PushResult Push(PushSpec spec, Func<string, string?> environment, Action<string> log, Action<string> progress, CancellationToken cancel = default, HttpMessageHandler? handler = null, int chunkSize = DefaultChunkSize, Func<int, TimeSpan>? backoff = null) =>
        PushAsync(spec, environment, log, progress, cancel, handler, chunkSize, backoff).GetAwaiter().GetResult();

    /// <summary><paramref name="write"/>, called by one thread at a time, and never while another writer of <paramref name="gate"/> is.</summary>
    private static Action<string> OneAtATime(Action<string> write, object gate)
    {
        return line =>
        {
            lock (gate)
            {
                write(line);
            }
        };
    }

    public static async Task<PushResult> PushAsync(PushSpec spec, Func<string, string?> environment, Action<string> log, Action<string> progress, CancellationToken cancel, HttpMessageHandler? handler, int chunkSize, Func<int, TimeSpan>? backoff = null)
    {
        var clock = Stopwatch.StartNew();
        // Blobs go up in parallel, and each logs its requests: the caller gets one line at a time, as from one thread
        // (a test's List lost lines when three uploads logged at once). One gate for both: a caller may give both the same sink.
        var gate = new object();
        log = OneAtATime(log, gate);
        progress = OneAtATime(progress, gate);
        ImageLayout layout = ImageLayout.Read(spec.ImageDirectory);
        RegistryCredentials? credentials = CredentialLookup.Find(spec.Registry, environment, log, out string looked, cancel);
        log(credentials is null ? $"no credentials for {spec.Registry} ({looked}): anonymous" : $"{spec.Registry}: {credentials}");
        using var client = new RegistryClient(spec.Registry, spec.Repository, spec.PlainHttp, credentials, looked, log, handler) { Backoff = backoff ?? RegistryClient.DefaultBackoff };
        string scope = RegistryClient.PushScope(spec.Repository);
        string reference = $"{spec.Registry}/{spec.Repository}:{string.Join(",", spec.Tags)}";

        // Up to date: every tag already names this manifest.
        var stale = new List<string>();
        foreach (string tag in spec.Tags)
        {
            if (await ManifestDigest(client, spec.Repository, tag, layout.Top.MediaType, scope, cancel).ConfigureAwait(false) != layout.Top.Digest)
            {
                stale.Add(tag);
            }
        }

        if (stale.Count == 0)
        {
            return new PushResult(reference, layout.Top.Digest, true, 0, 0, layout.Blobs.Count, 0, client.Requests, clock.Elapsed);
        }

        PushRecord record = PushRecord.Load(spec.RecordFile);
        // A base image's repository on this registry holds its layers: mounted from there, never sent again.
        string[] bases = layout.BaseImages.Where(b => string.Equals(b.Registry, spec.Registry, StringComparison.OrdinalIgnoreCase) && b.Repository != spec.Repository).Select(b => b.Repository).Distinct().ToArray();
        int uploaded = 0, present = 0, mounted = 0;
        long bytes = 0;
        await System.Threading.Tasks.Parallel.ForEachAsync(layout.Blobs, new ParallelOptions { MaxDegreeOfParallelism = Parallel, CancellationToken = cancel }, async (blob, token) =>
        {
            IReadOnlyList<string> holders = record.HoldersOf(spec.Registry, blob.Digest, spec.Repository);
            switch (await PushBlob(client, spec, blob, holders.Count > 0 || blob == layout.Blobs[0] ? holders : bases, scope, chunkSize, progress, log, token).ConfigureAwait(false))
            {
                case BlobOutcome.Present:
                    Interlocked.Increment(ref present);
                    break;
                case BlobOutcome.Mounted:
                    Interlocked.Increment(ref mounted);
                    break;
                default:
                    Interlocked.Increment(ref uploaded);
                    Interlocked.Add(ref bytes, blob.Size);
                    break;
            }
        }).ConfigureAwait(false);

        // Manifests last: an image index's own manifests before the index, then each tag.
        foreach (LayoutManifest child in layout.Children)
        {
            await PutManifest(client, spec.Repository, child.Digest, child, scope, cancel).ConfigureAwait(false);
        }

        foreach (string tag in stale)
        {
            await PutManifest(client, spec.Repository, tag, layout.Top, scope, cancel).ConfigureAwait(false);
        }

        record.Add(spec.Registry, spec.Repository, layout.Blobs.Select(b => b.Digest));
        record.Save();
        return new PushResult(reference, layout.Top.Digest, false, uploaded, bytes, present, mounted, client.Requests, clock.Elapsed);
    }

    private enum BlobOutcome
    {
        Present,
        Mounted,
        Uploaded,
    }

    /// <summary>The digest a tag names in the registry, or null when it names nothing.</summary>
    private static async Task<string?> ManifestDigest(RegistryClient client, string repository, string tag, string mediaType, string scope, CancellationToken cancel)
    {
        using HttpResponseMessage response = await client.SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Head, client.Url($"{repository}/manifests/{tag}"));
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mediaType));
            return request;
        }, scope, cancel).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null; // a new repository or tag; a missing repository is no error before the first push
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await client.Fail(response, $"HEAD manifest {tag}", cancel).ConfigureAwait(false);
        }

        return response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.FirstOrDefault() : null;
    }

    private static async Task<BlobOutcome> PushBlob(RegistryClient client, PushSpec spec, LayoutBlob blob, IReadOnlyList<string> holders, string scope, int chunkSize, Action<string> progress, Action<string> log, CancellationToken cancel)
    {
        using (HttpResponseMessage head = await client.SendAsync(() => new HttpRequestMessage(HttpMethod.Head, client.Url($"{spec.Repository}/blobs/{blob.Digest}")), scope, cancel).ConfigureAwait(false))
        {
            if (head.IsSuccessStatusCode)
            {
                return BlobOutcome.Present;
            }

            if ((int)head.StatusCode >= 500)
            {
                // Still a 5xx after the retries: distribution answers 500 for a blob whose write a crash cut off (its
                // link written, empty), and so may others; an upload overwrites it, so the blob goes up as if absent
                // and the push fails only if that upload does.
                log($"HEAD blob {blob.Digest}: {(int)head.StatusCode} {head.ReasonPhrase} after the retries; uploading it as if absent (an upload overwrites what a cut-off write left)");
            }
            else if (head.StatusCode != HttpStatusCode.NotFound)
            {
                throw await client.Fail(head, $"HEAD blob {blob.Digest}", cancel).ConfigureAwait(false);
            }
        }

        // A few tries of the whole blob: an upload session cut off midway, or refused with a 429 or 5xx at a PUT or
        // PATCH (which carry the bytes, so are not sent twice into one session), cannot be trusted to resume.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await Upload(client, spec, blob, holders, scope, chunkSize, progress, attempt, cancel).ConfigureAwait(false);
            }
            catch (OciBundleException e) when (attempt + 1 < BlobAttempts && e.Diagnostic == Strings.RegistryUnreachable && e.InnerException is not TimeoutException)
            {
                await Task.Delay(client.Backoff(attempt), cancel).ConfigureAwait(false);
            }
            catch (UploadRefused refused)
            {
                await Task.Delay(refused.Wait, cancel).ConfigureAwait(false);
            }
        }
    }

    /// <summary>How many upload sessions a blob gets.</summary>
    private const int BlobAttempts = 3;

    /// <summary>A PUT or PATCH of a blob answered 429 or 5xx with attempts left: the blob's upload starts again after <see cref="Wait"/>.</summary>
    private sealed class UploadRefused : Exception
    {
        public UploadRefused(TimeSpan wait) => Wait = wait;

        public TimeSpan Wait { get; }
    }

    /// <summary>The coded error for an upload's PUT or PATCH that was refused; <see cref="UploadRefused"/> when it may be tried again.</summary>
    private static async Task<Exception> UploadFailed(RegistryClient client, HttpResponseMessage response, string what, int attempt, CancellationToken cancel)
    {
        if (RegistryClient.IsRetryable(response) && attempt + 1 < BlobAttempts)
        {
            return new UploadRefused(client.RetryWait(response, attempt));
        }

        return await client.Fail(response, what, cancel, attempts: attempt + 1).ConfigureAwait(false);
    }

    private static async Task<BlobOutcome> Upload(RegistryClient client, PushSpec spec, LayoutBlob blob, IReadOnlyList<string> holders, string scope, int chunkSize, Action<string> progress, int attempt, CancellationToken cancel)
    {
        Uri? location = null;
        string from = holders.FirstOrDefault() ?? "";
        string mountScope = from.Length > 0 ? scope + " " + $"repository:{from}:pull" : scope;
        string start = from.Length > 0 ? $"{spec.Repository}/blobs/uploads/?mount={Uri.EscapeDataString(blob.Digest)}&from={Uri.EscapeDataString(from)}" : $"{spec.Repository}/blobs/uploads/";
        using (HttpResponseMessage post = await client.SendAsync(() => new HttpRequestMessage(HttpMethod.Post, client.Url(start)) { Content = new ByteArrayContent(Array.Empty<byte>()) }, from.Length > 0 ? mountScope : scope, cancel).ConfigureAwait(false))
        {
            if (post.StatusCode == HttpStatusCode.Created && from.Length > 0)
            {
                return BlobOutcome.Mounted;
            }

            if (post.StatusCode != HttpStatusCode.Accepted || post.Headers.Location is null)
            {
                throw await client.Fail(post, $"POST upload of {blob.Digest}", cancel).ConfigureAwait(false);
            }

            location = client.UploadLocation(post, $"POST upload of {blob.Digest}");
        }

        if (blob.Size <= chunkSize)
        {
            using HttpResponseMessage put = await client.SendAsync(() => new HttpRequestMessage(HttpMethod.Put, WithDigest(location, blob.Digest)) { Content = FileContent(blob, 0, blob.Size) }, scope, cancel, retry: false).ConfigureAwait(false);
            if (put.StatusCode != HttpStatusCode.Created)
            {
                throw await UploadFailed(client, put, $"PUT blob {blob.Digest}", attempt, cancel).ConfigureAwait(false);
            }

            return BlobOutcome.Uploaded;
        }

        var clock = Stopwatch.StartNew();
        TimeSpan said = TimeSpan.Zero;
        for (long offset = 0; offset < blob.Size; offset += chunkSize)
        {
            long length = Math.Min(chunkSize, blob.Size - offset);
            long first = offset;
            Uri target = location;
            using HttpResponseMessage patch = await client.SendAsync(() =>
            {
                var request = new HttpRequestMessage(HttpMethod.Patch, target) { Content = FileContent(blob, first, length) };
                request.Content.Headers.TryAddWithoutValidation("Content-Range", $"{first}-{first + length - 1}");
                return request;
            }, scope, cancel, retry: false).ConfigureAwait(false);
            if (patch.StatusCode != HttpStatusCode.Accepted || patch.Headers.Location is null)
            {
                throw await UploadFailed(client, patch, $"PATCH blob {blob.Digest} at {first}", attempt, cancel).ConfigureAwait(false);
            }

            location = client.UploadLocation(patch, $"PATCH blob {blob.Digest} at {first}");
            if (clock.Elapsed - said > TimeSpan.FromSeconds(2))
            {
                said = clock.Elapsed;
                progress(string.Create(CultureInfo.InvariantCulture, $"{client.Registry}/{client.Repository}: uploading {blob.Digest[..19]}: {(offset + length) / 1048576.0:F1} of {blob.Size / 1048576.0:F1} MB"));
            }
        }

        using HttpResponseMessage done = await client.SendAsync(() => new HttpRequestMessage(HttpMethod.Put, WithDigest(location, blob.Digest)) { Content = new ByteArrayContent(Array.Empty<byte>()) }, scope, cancel, retry: false).ConfigureAwait(false);
        if (done.StatusCode != HttpStatusCode.Created)
        {
            throw await UploadFailed(client, done, $"PUT blob {blob.Digest}", attempt, cancel).ConfigureAwait(false);
        }

        return BlobOutcome.Uploaded;
    }

    private static async Task PutManifest(RegistryClient client, string repository, string reference, LayoutManifest manifest, string scope, CancellationToken cancel)
    {
        using HttpResponseMessage put = await client.SendAsync(() =>
        {
            var content = new ByteArrayContent(manifest.Content);
            content.Headers.ContentType = new MediaTypeHeaderValue(manifest.MediaType);
            return new HttpRequestMessage(HttpMethod.Put, client.Url($"{repository}/manifests/{reference}")) { Content = content };
        }, scope, cancel).ConfigureAwait(false);
        if (put.StatusCode != HttpStatusCode.Created)
        {
            throw await client.Fail(put, $"PUT manifest {reference}", cancel).ConfigureAwait(false);
        }

        if (put.Headers.TryGetValues("Docker-Content-Digest", out var values) && values.FirstOrDefault() is { } stored && stored != manifest.Digest)
        {
            throw new OciBundleException(Strings.RegistryDigestMismatch, client.Registry, repository, reference, stored, manifest.Digest);
        }
    }

    private static Uri WithDigest(Uri location, string digest) =>
        new(location + (string.IsNullOrEmpty(location.Query) ? "?" : "&") + "digest=" + Uri.EscapeDataString(digest));

    private static HttpContent FileContent(LayoutBlob blob, long offset, long length)
    {
        FileStream stream = blob.Open();
        stream.Seek(offset, SeekOrigin.Begin);
        var content = new StreamContent(new BoundedStream(stream, length), 1 << 16);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = length;
        return content;
    }

    /// <summary>The next <c>length</c> bytes of a stream (one chunk of a file), owning the stream.</summary>
    private sealed class BoundedStream : Stream
    {
        private readonly Stream _inner;
        private long _left;

        public BoundedStream(Stream inner, long length)
        {
            _inner = inner;
            _left = length;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_left <= 0)
            {
                return 0;
            }

            int n = _inner.Read(buffer[..(int)Math.Min(buffer.Length, _left)]);
            _left -= n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
