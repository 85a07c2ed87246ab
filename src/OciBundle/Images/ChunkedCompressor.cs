using OciBundle.Model;
using OciBundle.Storage;

namespace OciBundle.Images;

/// <summary>
/// A write-only stream that cuts what it is given into chunks of <see cref="ChunkSize"/> bytes, compresses each on
/// the thread pool as a stream of its own (a gzip member, a zstd frame), and writes them to the inner stream in
/// order. The concatenation is one valid gzip (RFC 1952, section 2.2: a gzip file is a series of members) or zstd
/// (RFC 8878, section 3: a series of frames) stream, which every reader decompresses to the input. The chunks are
/// cut at fixed offsets, so the bytes never depend on the number of cores; at most <c>parallelism + 1</c> chunks
/// are held at once, so memory does not grow with the layer.
/// </summary>
/// <remarks>
/// Written by hand: pigz does this for gzip, but no managed library does (GZipStream and ZstdSharp's stream are
/// one core each; zstd's own multi-threading changes its output with the job size it picks, not ours).
/// </remarks>
internal sealed class ChunkedCompressor : Stream
{
    /// <summary>
    /// Large enough that the window reset at each boundary costs well under 1% of the compressed size, small enough
    /// that a 2-core machine has work for both cores in a layer of a few megabytes.
    /// </summary>
    public const int ChunkSize = 1 << 20;

    private readonly Stream _inner;
    private readonly BlobCompression _compression;
    private readonly int _parallelism;
    private readonly Queue<Task<(byte[] Buffer, int Length)>> _pending = new();

    // Buffers of this stream, recycled: at most parallelism + 2 of each size ever exist, and none is large garbage.
    // The first chunk's is as large as the stream is expected to be (else it grows from 64 KiB as it fills), and its
    // output is only as large as it needs: an app layer of 600 KB allocated 3 MB for its one chunk, on the large object heap of MSBuild's young process, where the
    // first few megabytes bring a collection of every generation (15-25 ms) into the publish.
    private readonly System.Collections.Concurrent.ConcurrentBag<byte[]> _inputs = new();
    private readonly System.Collections.Concurrent.ConcurrentBag<byte[]> _outputs = new();
    private byte[]? _buffer;
    private int _filled;
    private bool _finished;

    private readonly SemaphoreSlim? _cores;

    /// <param name="inner">Where the compressed stream goes.</param>
    /// <param name="compression">gzip members or zstd frames.</param>
    /// <param name="parallelism">How many chunks of this stream may be compressed or waiting at once.</param>
    /// <param name="cores">Shared by the streams written side by side: how many chunks compress at once in all.</param>
    /// <param name="expected">How many bytes are coming, when known (a layer's tar): the first buffer is taken that large, up to a chunk.</param>
    public ChunkedCompressor(Stream inner, LayerCompression compression, int parallelism, SemaphoreSlim? cores = null, long expected = 0)
    {
        _buffer = new byte[(int)Math.Clamp(expected, FirstBuffer, ChunkSize)];
        _inner = inner;
        _compression = BlobCompression.Of(compression);
        _parallelism = Math.Max(1, parallelism);
        _cores = cores;
    }

    // By the compression's name: a framework dictionary keyed by an enum is compiled on each publish.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> Probes = new(StringComparer.Ordinal);

    /// <summary>
    /// The digest of a fixed chunk compressed by this process's compressor: what the zlib or zstd build in use makes
    /// of it. In a layer's fingerprint, so a layer written by another build (a distribution's zlib upgraded under the
    /// runtime) is not reused next to fresh ones that would come out different.
    /// </summary>
    public static string Probe(LayerCompression compression) => Probes.GetOrAdd(((int)compression).ToString(System.Globalization.CultureInfo.InvariantCulture), _ =>
    {
        byte[] sample = new byte[1 << 16];
        for (int i = 0; i < sample.Length; i++)
        {
            sample[i] = (byte)("OciBundle.Sdk probe "[i % 20] ^ (i >> 9));
        }

        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Compress(sample, compression)))[..16];
    });

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <summary>The first chunk's buffer to start with (below the large object heap's 85,000 bytes).</summary>
    private const int FirstBuffer = 1 << 16;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            int n = Math.Min(buffer.Length, ChunkSize - _filled);
            _buffer = Room(_buffer, _filled, _filled + n);
            buffer[..n].CopyTo(_buffer.AsSpan(_filled));
            _filled += n;
            buffer = buffer[n..];
            if (_filled == ChunkSize)
            {
                Submit();
            }
        }
    }

    /// <summary>Compresses what is left and writes every chunk; the stream is complete after this.</summary>
    public void Finish()
    {
        if (_finished)
        {
            return;
        }

        if (_filled > 0 || _pending.Count == 0)
        {
            Submit();
        }

        while (_pending.Count > 0)
        {
            WriteNext();
        }

        _finished = true;
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_finished)
        {
            // Not finished: an error stopped the layer. Let the chunks in flight end, and write none of them.
            foreach (Task<(byte[] Buffer, int Length)> task in _pending)
            {
                try
                {
                    task.Wait();
                }
                catch (AggregateException)
                {
                }
            }

            _pending.Clear();
        }


        base.Dispose(disposing);
    }

    /// <summary>One chunk compressed alone (for tests): what a reader of the whole stream sees as one member or frame.</summary>
    internal static byte[] Compress(ReadOnlySpan<byte> chunk, LayerCompression compression)
    {
        byte[] output = new byte[BlobCompression.Bound(chunk.Length)];
        return output.AsSpan(0, BlobCompression.Of(compression).CompressChunk(chunk, output)).ToArray();
    }

    /// <summary>A buffer that holds <paramref name="needed"/> bytes, the first <paramref name="filled"/> of <paramref name="current"/> kept.</summary>
    private byte[] Room(byte[]? current, int filled, int needed)
    {
        if (current is null)
        {
            return _inputs.TryTake(out byte[]? free) ? free : new byte[ChunkSize];
        }

        if (needed <= current.Length)
        {
            return current;
        }

        byte[] larger = new byte[Math.Min(ChunkSize, Math.Max(needed, current.Length * 2))];
        current.AsSpan(0, filled).CopyTo(larger);
        return larger;
    }

    private void Submit()
    {
        byte[] chunk = _buffer ?? Array.Empty<byte>();
        int length = _filled;
        BlobCompression compression = _compression;
        SemaphoreSlim? cores = _cores;
        _pending.Enqueue(Task.Run(async () =>
        {
            if (cores is not null)
            {
                await cores.WaitAsync().ConfigureAwait(false);
            }

            try
            {
                byte[] output = length < ChunkSize ? new byte[BlobCompression.Bound(length)]
                    : _outputs.TryTake(out byte[]? recycled) ? recycled : new byte[BlobCompression.Bound(ChunkSize)];
                int written = compression.CompressChunk(chunk.AsSpan(0, length), output);
                if (chunk.Length == ChunkSize)
                {
                    _inputs.Add(chunk);
                }

                return (output, written);
            }
            finally
            {
                cores?.Release();
            }
        }));
        _buffer = null; // taken when the next byte comes: the last chunk leaves none behind
        _filled = 0;
        while (_pending.Count > _parallelism)
        {
            WriteNext();
        }
    }

    private void WriteNext()
    {
        (byte[] buffer, int length) = _pending.Dequeue().GetAwaiter().GetResult();
        _inner.Write(buffer, 0, length);
        if (buffer.Length == BlobCompression.Bound(ChunkSize))
        {
            _outputs.Add(buffer);
        }
    }
}
