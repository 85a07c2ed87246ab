using System.Security.Cryptography;

namespace OciBundle.Sysroots;

/// <summary>A read-only stream that hashes what passes through it; <see cref="DigestOfAll"/> reads the rest first.</summary>
internal sealed class HashingStream : Stream
{
    private readonly Stream _inner;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public HashingStream(Stream inner) => _inner = inner;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        _hash.AppendData(buffer[..n]);
        return n;
    }

    /// <summary>The digest of the whole inner stream (what a decompressor left unread, such as padding, included).</summary>
    public string DigestOfAll()
    {
        byte[] rest = new byte[1 << 16];
        while (Read(rest) > 0)
        {
        }

        return "sha256:" + Convert.ToHexString(_hash.GetHashAndReset()).ToLowerInvariant();
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
            _hash.Dispose();
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
