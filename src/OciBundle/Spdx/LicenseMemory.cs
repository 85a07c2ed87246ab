using OciBundle.Interop;
using OciBundle.Storage;

namespace OciBundle.Spdx;

/// <summary>
/// The license expressions the SBOM reads from files (a Debian package's copyright file, a NuGet package's nuspec),
/// kept in the per-user cache (<see cref="DigestCache"/>) under each file's full identity: a plan after an app change
/// reads none of them again, and a file written since is read again. Only a regular file is remembered; a link is
/// read as it is each time.
/// </summary>
internal sealed class LicenseMemory
{
    private readonly DigestCache? _cache;
    private Dictionary<string, (string Identity, string License)>? _known;
    private bool _changed;

    /// <param name="cache">The per-user cache, or null: every file is read.</param>
    public LicenseMemory(DigestCache? cache) => _cache = cache;

    /// <summary>The license <paramref name="read"/> gives for <paramref name="path"/>, remembered while the file keeps its identity.</summary>
    public string Of(string path, Func<string, string> read)
    {
        if (_cache is null || IdentityOf(path) is not { } identity)
        {
            return read(path);
        }

        _known ??= _cache.ReadLicenses();
        if (_known.TryGetValue(path, out (string Identity, string License) known) && known.Identity == identity)
        {
            return known.License;
        }

        // Kept only when the file read is still the one whose identity it goes under.
        string license = read(path);
        if (IdentityOf(path) == identity)
        {
            _known[path] = (identity, license);
            _changed = true;
        }

        return license;
    }

    /// <summary>Remembers what was read for the next plan; nothing when nothing new was.</summary>
    public void Save()
    {
        if (_changed)
        {
            _cache!.WriteLicenses(_known!);
            _changed = false;
        }
    }

    private static string? IdentityOf(string path) =>
        Path.IsPathRooted(path) && NativeMethods.LStat(path) is { } st && (st.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFREG ? NativeMethods.Identity(st) : null;
}
