using System.Security.Cryptography;
using OciBundle.Model.Oci;

namespace OciBundle.Storage;

/// <summary>
/// Passes a stream's bytes through and hashes them (SHA-256) on the way, in whichever direction the stream is used:
/// what is read from the inner stream (a blob checked against its digest as it is unpacked), or what is written to
/// it (a layer's tar and its compressed bytes, each hashed once as they are made). No library stream does this:
/// CryptoStream transforms, it does not observe.
/// </summary>
internal sealed class HashingStream : Stream
{
    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <param name="inner">The stream read or written.</param>
    /// <param name="leaveOpen">Whether disposing this stream leaves the inner one open.</param>
    public HashingStream(Stream inner, bool leaveOpen = false)
    {
        _inner = inner;
        _leaveOpen = leaveOpen;
    }

    /// <summary>How many bytes passed so far.</summary>
    public long BytesHashed { get; private set; }

    public override bool CanRead => _inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => _inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => BytesHashed; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        _hash.AppendData(buffer[..n]);
        BytesHashed += n;
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        _inner.Write(buffer);
        BytesHashed += buffer.Length;
    }

    /// <summary>The digest of what passed (once: the hash starts again after).</summary>
    public string Digest() => OciDigest.FromHash(_hash.GetHashAndReset());

    /// <summary>Reads the inner stream to its end (what a decompressor left unread, such as padding, included) and gives the digest of all of it.</summary>
    public string DigestOfAll()
    {
        byte[] rest = new byte[1 << 16];
        while (Read(rest) > 0)
        {
        }

        return Digest();
    }

    public override void Flush() => _inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            if (!_leaveOpen)
            {
                _inner.Dispose();
            }
        }

        base.Dispose(disposing);
    }
}
