using System.Diagnostics;
using System.Security.Cryptography;
using OciBundle.Interop;
using OciBundle.Storage;

namespace OciBundle.Spdx;

/// <summary>
/// The <c>.nupkg</c> files of the NuGet package folder, for the SBOM's package checksums: the SHA-512 of the file as it
/// lies there, signature and all, which is what <c>sha512sum</c> of the package prints and what NuGet writes into
/// <c>.nupkg.sha512</c> beside it. (NuGet's <c>contentHash</c>, in <c>.nupkg.metadata</c> and deps.json, is another
/// hash: of the package without its signature file.) NuGet's own record is taken where it left one: it is the hash of
/// the package the folder's files were extracted from, and a runtime pack is 30 to 70 MB (47 ms of a first publish's
/// CPU here). Without one, the file is hashed, and each digest kept in the per-user cache (<see cref="DigestCache"/>)
/// under the file's full identity, read again only for a file written since. Used by one thread at a time: the
/// prefetch's first wave, then the SBOM step once <c>SbomPrefetch.Finish</c> has waited for it.
/// </summary>
internal sealed class NuGetPackageFiles
{
    private readonly string _given;
    private readonly string _root;
    private readonly DigestCache? _cache;
    private readonly State.InputLedger? _inputs;
    private readonly Action<string> _log;
    private Dictionary<string, (string Identity, string Sha512)>? _known;
    private readonly Dictionary<string, string?> _recorded = new(StringComparer.Ordinal);
    private bool _changed;

    /// <param name="root">The NuGet package folder (<c>$(NuGetPackageRoot)</c>), absolute.</param>
    /// <param name="cache">The per-user cache, or null: every file is hashed.</param>
    /// <param name="inputs">Where each file read is recorded as an input of the plan.</param>
    /// <param name="log">Low-importance messages: what was hashed, and how long it took.</param>
    public NuGetPackageFiles(string root, DigestCache? cache, State.InputLedger? inputs, Action<string> log)
    {
        root = Path.TrimEndingDirectorySeparator(root);
        _given = root;
        _root = NativeMethods.RealPath(root) ?? root; // ~/.nuget/packages may be a link to another disk
        _cache = cache;
        _inputs = inputs;
        _log = log;
    }

    /// <summary>
    /// The package file of <paramref name="id"/> <paramref name="version"/> (where deps.json's <paramref name="packagePath"/>
    /// says, else where NuGet puts it: <c>id/version/id.version.nupkg</c>, lower-case) and its SHA-512 in lower-case hex;
    /// null when there is no such regular file inside the folder.
    /// </summary>
    public (string FileName, string Sha512)? Find(string id, string version, string? packagePath)
    {
        string folder = packagePath ?? $"{id.ToLowerInvariant()}/{version.ToLowerInvariant()}";
        string fileName = $"{id.ToLowerInvariant()}.{version.ToLowerInvariant()}.nupkg";
        if (Path.IsPathRooted(folder) || folder.Split('/', '\\').Any(p => p is ".." or "." or ""))
        {
            return null; // a path that leaves the package folder is not followed
        }

        string path = Path.Combine(_given, folder, fileName);
        _inputs?.Path(path);
        if (NativeMethods.RealPath(path) is not { } real || !real.StartsWith(_root + "/", StringComparison.Ordinal)
            || NativeMethods.LStat(real) is not { } s || (s.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG)
        {
            return null; // not there (restored elsewhere, or the folder cleaned), or not a regular file of the folder
        }

        // Read once a publish: the prefetch's thread asks first, the SBOM step again after it (the ledger keeps the
        // record's identity from the first look, so a record changed since is seen by the next publish).
        if (!_recorded.TryGetValue(real, out string? recorded))
        {
            recorded = _recorded[real] = Recorded(real);
            if (recorded is not null)
            {
                _log($"SBOM: the SHA-512 of {real} is NuGet's record of it ({real}.sha512)");
            }
        }

        if (recorded is not null)
        {
            return (fileName, recorded);
        }

        string relative = real[(_root.Length + 1)..];
        string identity = NativeMethods.Identity(real);
        _known ??= _cache?.ReadPackageHashes(_root) ?? new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        if (_known.TryGetValue(relative, out var entry) && entry.Identity == identity)
        {
            return (fileName, entry.Sha512);
        }

        var clock = Stopwatch.StartNew();
        string? sha512 = Hash(real, s.Inode);
        if (sha512 is null || NativeMethods.Identity(real) != identity)
        {
            return sha512 is null ? null : (fileName, sha512); // written while it was read: not remembered
        }

        _log($"SBOM: hashed {real} ({s.Size / 1048576.0:F1} MB, SHA-512) in {clock.ElapsedMilliseconds} ms");
        _known[relative] = (identity, sha512);
        _changed = true;
        return (fileName, sha512);
    }

    /// <summary>Writes what was hashed to the per-user cache, beside what it held for other packages.</summary>
    public void Save()
    {
        if (_changed && _cache is not null && _known is not null)
        {
            _cache.WritePackageHashes(_root, _known);
            _changed = false;
        }
    }

    /// <summary>
    /// The SHA-512 NuGet wrote beside <paramref name="nupkg"/> when it extracted it (<c>.nupkg.sha512</c>, base64), as
    /// lower-case hex; null when there is none, or it is not one regular file holding one SHA-512 (the file is hashed then).
    /// </summary>
    private string? Recorded(string nupkg)
    {
        string record = nupkg + ".sha512";
        _inputs?.Path(record);
        if (NativeMethods.LStat(record) is not { } st || (st.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG || st.Size > 1024)
        {
            return null;
        }

        try
        {
            // Opened as the writers open a source: never through a link or into a FIFO swapped in since the check.
            using var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(Rootfs.FileCopier.OpenSource(record, st.Inode), ownsHandle: true), FileAccess.Read, bufferSize: 0);
            byte[] text = new byte[1024];
            int total = 0, read;
            while (total < text.Length && (read = stream.Read(text, total, text.Length - total)) > 0)
            {
                total += read;
            }

            byte[] sha512 = new byte[64];
            return Convert.TryFromBase64String(System.Text.Encoding.ASCII.GetString(text, 0, total).Trim(), sha512, out int length) && length == sha512.Length
                ? Convert.ToHexString(sha512).ToLowerInvariant()
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Diagnostics.OciBundleException)
        {
            return null;
        }
    }

    /// <summary>The SHA-512 of the regular file checked at <paramref name="path"/> (inode <paramref name="inode"/>), read as the SBOM's file digests are; null, logged, when it cannot be read or was swapped since.</summary>
    private string? Hash(string path, ulong inode)
    {
        try
        {
            using var sha512 = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
            FileDigests.HashSource(path, inode, mustBePublic: false, sha512);
            return Convert.ToHexString(sha512.GetHashAndReset()).ToLowerInvariant();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log($"SBOM: {path} cannot be read ({e.Message}): its package gets no checksum");
            return null;
        }
    }
}
