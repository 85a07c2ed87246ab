using System.Security.Cryptography;

namespace OciBundle.Model.Oci;

/// <summary>Digests as the OCI specifications write them (<c>sha256:</c> and 64 lowercase hex digits): the only ones this product names a blob by.</summary>
internal static class OciDigest
{
    public const string Sha256Prefix = "sha256:";

    /// <summary>Whether a text is a sha256 digest as written: only such a text names a blob (no path is ever made of another).</summary>
    public static bool IsSha256(string? digest) =>
        digest is { Length: 71 } && digest.StartsWith(Sha256Prefix, StringComparison.Ordinal) && digest.AsSpan(7).IndexOfAnyExcept("0123456789abcdef") < 0;

    /// <summary>The digest of some bytes.</summary>
    public static string Of(ReadOnlySpan<byte> content) => FromHash(SHA256.HashData(content));

    /// <summary>A finished SHA-256 as a digest.</summary>
    public static string FromHash(ReadOnlySpan<byte> sha256) => Sha256Prefix + Convert.ToHexString(sha256).ToLowerInvariant();

    /// <summary>The 64 hex digits of a digest <see cref="IsSha256"/> accepts (a blob's file name); anything else is refused.</summary>
    public static string Hex(string digest) =>
        IsSha256(digest) ? digest[Sha256Prefix.Length..] : throw new FormatException($"'{digest}' is not a sha256 digest");
}
