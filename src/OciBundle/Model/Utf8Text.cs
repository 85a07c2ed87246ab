using System.Security.Cryptography;
using System.Text;

namespace OciBundle.Model;

/// <summary>
/// A document written into a <see cref="StringBuilder"/> (the SBOM, provenance.json: hundreds of kilobytes for a
/// self-contained app) made UTF-8 bytes straight from the builder's chunks, a slice at a time: the bytes
/// <see cref="Encoding.GetBytes(string)"/> of the whole text gives, a surrogate pair split between chunks encoded as
/// one, without the whole text as one string first. Every large string or array counts towards a full garbage
/// collection of the MSBuild process the task runs in, and one landed in the task on every publish (30-40 ms).
/// </summary>
internal static class Utf8Text
{
    private const int SliceChars = 4096;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, in one array of exactly their length.</summary>
    public static byte[] Bytes(StringBuilder text)
    {
        // Counted by encoding once into nothing (an Encoder's GetByteCount does not carry a split pair to the next slice).
        int count = 0;
        Encode(text, (chunk, _) => count += chunk.Length);
        byte[] bytes = new byte[count];
        Encode(text, (chunk, at) => chunk.CopyTo(bytes.AsSpan(at)));
        return bytes;
    }

    /// <summary>The SHA-256 of the UTF-8 bytes of <paramref name="text"/>.</summary>
    public static byte[] Sha256(StringBuilder text)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Encode(text, (chunk, _) => sha.AppendData(chunk));
        return sha.GetHashAndReset();
    }

    private delegate void Sink(ReadOnlySpan<byte> chunk, int at);

    private static void Encode(StringBuilder text, Sink sink)
    {
        Encoder encoder = Utf8.GetEncoder();
        byte[] buffer = new byte[Utf8.GetMaxByteCount(SliceChars)];
        int at = 0;
        foreach (ReadOnlyMemory<char> slice in Slices(text))
        {
            int n = encoder.GetBytes(slice.Span, buffer, flush: false);
            sink(buffer.AsSpan(0, n), at);
            at += n;
        }

        sink(buffer.AsSpan(0, encoder.GetBytes(ReadOnlySpan<char>.Empty, buffer, flush: true)), at);
    }

    private static IEnumerable<ReadOnlyMemory<char>> Slices(StringBuilder text)
    {
        foreach (ReadOnlyMemory<char> chunk in text.GetChunks())
        {
            for (int i = 0; i < chunk.Length; i += SliceChars)
            {
                yield return chunk.Slice(i, Math.Min(SliceChars, chunk.Length - i));
            }
        }
    }
}
