using System.IO.Compression;
using OciBundle.Model;
using OciBundle.Model.Oci;

namespace OciBundle.Storage;

/// <summary>
/// How a blob is compressed, and the layer media type that says so (as umoci's compression algorithms carry theirs):
/// gzip or zstd. The image writer compresses with it chunk by chunk; the sysroot's unpacker reads with it, telling the
/// compression by a blob's first bytes (an image's media types are not trusted to say).
/// </summary>
internal abstract class BlobCompression
{
    public static readonly BlobCompression Gzip = new GzipCompression();
    public static readonly BlobCompression Zstd = new ZstdCompression();

    /// <summary>The zstd level layers are written at: zstd's default, faster than gzip's and smaller.</summary>
    public const int ZstdLevel = 3;

    /// <summary>The media type of a layer compressed so.</summary>
    public abstract string LayerMediaType { get; }

    public static BlobCompression Of(LayerCompression compression) => compression == LayerCompression.Zstd ? Zstd : Gzip;

    /// <summary>The most a chunk of <paramref name="length"/> bytes can take compressed (deflate's stored blocks, zstd's bound), plus the headers.</summary>
    public static int Bound(int length) => length + length / 64 + 1024;

    /// <summary>
    /// One chunk compressed alone into <paramref name="output"/> (at least <see cref="Bound"/> bytes): what a reader of
    /// a stream of them sees as one gzip member (RFC 1952 2.2) or zstd frame (RFC 8878 3); returns the length.
    /// </summary>
    public abstract int CompressChunk(ReadOnlySpan<byte> chunk, byte[] output);

    /// <summary>The decompressed stream of <paramref name="compressed"/>, which it owns.</summary>
    public abstract Stream Decompress(Stream compressed);

    /// <summary>Whether a stream's first bytes are this compression's magic.</summary>
    protected abstract bool Matches(ReadOnlySpan<byte> magic);

    /// <summary>The compression a file's first bytes say, or null for none (a plain tar, say).</summary>
    public static BlobCompression? Sniff(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        Span<byte> magic = stackalloc byte[4];
        int n = file.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        foreach (BlobCompression compression in new[] { Gzip, Zstd })
        {
            if (compression.Matches(magic[..n]))
            {
                return compression;
            }
        }

        return null;
    }

    /// <summary>A stream from <paramref name="raw"/>, decompressed as <paramref name="path"/>'s first bytes say: gzip, zstd, or as it is.</summary>
    public static Stream Decompressed(Stream raw, string path)
    {
        var buffered = new BufferedStream(raw, 1 << 16);
        return Sniff(path) is { } compression ? compression.Decompress(buffered) : buffered;
    }

    private sealed class GzipCompression : BlobCompression
    {
        public override string LayerMediaType => OciMediaTypes.LayerGzip;

        public override int CompressChunk(ReadOnlySpan<byte> chunk, byte[] output)
        {
            using var stream = new MemoryStream(output, writable: true);
            using (var gzip = new GZipStream(stream, CompressionLevel.Optimal, leaveOpen: true))
            {
                gzip.Write(chunk);
            }

            // The header's OS byte is the one the zlib build was compiled for: say Unix, as GNU gzip on Linux does,
            // so the bytes do not depend on where .NET was built. (No header checksum covers it.)
            output[9] = 3;
            return (int)stream.Position;
        }

        public override Stream Decompress(Stream compressed) => new GZipStream(compressed, CompressionMode.Decompress);

        protected override bool Matches(ReadOnlySpan<byte> magic) => magic.Length >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    private sealed class ZstdCompression : BlobCompression
    {
        // One context per thread: ZSTD_compress2 starts every frame afresh, and a context costs megabytes to set up.
        [ThreadStatic]
        private static ZstdSharp.Compressor? _context;

        public override string LayerMediaType => OciMediaTypes.LayerZstd;

        public override int CompressChunk(ReadOnlySpan<byte> chunk, byte[] output)
        {
            _context ??= new ZstdSharp.Compressor(ZstdLevel);
            return _context.Wrap(chunk, output);
        }

        public override Stream Decompress(Stream compressed) => new ZstdSharp.DecompressionStream(compressed);

        protected override bool Matches(ReadOnlySpan<byte> magic) => magic.Length >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd;
    }
}
