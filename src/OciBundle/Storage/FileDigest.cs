namespace OciBundle.Storage;

/// <summary>
/// The checksums the SBOM gives a file: SHA-1 (which SPDX 2.3 makes mandatory) and SHA-256, lower-case hex. A class,
/// as <see cref="KnownDigest"/> is: the dictionaries that hold them then run the framework's shared, precompiled code,
/// where a struct value makes the runtime compile each dictionary method for it on the user's clock.
/// </summary>
internal sealed record FileDigest(string Sha1, string Sha256)
{
    /// <summary>The form the build state keeps it in, after the identity of the source it was computed from.</summary>
    public override string ToString() => Sha1 + " " + Sha256;

    public static FileDigest? Parse(string text) =>
        text.Split(' ') is [{ Length: 40 } sha1, { Length: 64 } sha256] ? new FileDigest(sha1, sha256) : null;
}

/// <summary>A file's digest with the identity its file had when it was hashed (the per-user cache's entry).</summary>
internal sealed record KnownDigest(string Identity, FileDigest Digest);
