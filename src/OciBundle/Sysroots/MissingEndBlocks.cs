namespace OciBundle.Sysroots;

/// <summary>
/// A tar stream read as GNU tar, skopeo and podman read it: one that ends right after an entry, on a 512-byte block,
/// without the two zero blocks that mark the end of an archive (umoci 0.4.7's layers end so), ends there. .NET's
/// <c>TarReader</c> refuses such a stream when it cannot seek ("Unable to read beyond the end of the stream"), so the
/// two blocks are supplied here, after the bytes of the stream (which a <c>diff_id</c> is taken over, below this
/// wrapper). A stream that ends inside a block, inside an entry's header or data, still ends there: the reader then
/// says it is cut short.
/// </summary>
internal sealed class MissingEndBlocks : Stream
{
    private const int Block = 512;
    private readonly Stream _inner;
    private long _read;
    private int _supplied = 2 * Block;

    public MissingEndBlocks(Stream inner) => _inner = inner;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        if (n > 0 || buffer.IsEmpty)
        {
            _read += n;
            return n;
        }

        if (_read % Block != 0 || _supplied == 0)
        {
            return 0;
        }

        int zeros = Math.Min(buffer.Length, _supplied);
        buffer[..zeros].Clear();
        _supplied -= zeros;
        _read += zeros;
        return zeros;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
