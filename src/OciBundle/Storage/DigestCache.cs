using System.Security.Cryptography;
using System.Text;

namespace OciBundle.Storage;

/// <summary>
/// The SBOM's file digests, remembered across projects and clean builds on this machine (<c>OciBundleCacheDir</c>):
/// the runtime pack, the shared frameworks and the sysroot's libraries are the same files for every project and
/// every publish, so each is hashed once, not on every clean build. An entry counts only for the file's full
/// identity (device, inode, size, mtime and ctime to the nanosecond, mode, owner): a file written since, even in
/// place with its old mtime, has a new ctime and is hashed again. One small file per source folder, replaced by
/// rename; a lost update only costs a hash next time.
/// </summary>
/// <remarks>
/// The folder must be trusted by the per-user cache rule (<see cref="CacheTrust"/>), its group not allowed to write
/// (it is created 0700): digests planted by another user would put false checksums in the SBOM. Otherwise the cache
/// is not used, and files are hashed as without it.
/// </remarks>
internal sealed class DigestCache
{
    private const string Version = "ocibundle-digests 1";
    private readonly string _folder;

    private DigestCache(string folder) => _folder = folder;

    /// <summary>The cache under <paramref name="root"/>, or null when there is none or it is not safe to trust.</summary>
    public static DigestCache? Open(string? root, Action<string> log)
    {
        if (string.IsNullOrWhiteSpace(root))
        {
            return null;
        }

        string folder = Path.Combine(Path.GetFullPath(root), "digests");
        try
        {
            Directory.CreateDirectory(folder, (UnixFileMode)0b111_000_000);
            for (string dir = folder; dir.Length > 1 && dir != Path.GetDirectoryName(Path.GetFullPath(root)); dir = Path.GetDirectoryName(dir)!)
            {
                if (CacheTrust.Distrust(dir, groupMayWrite: false) is { } why)
                {
                    log($"Not using the digest cache {folder}: {dir} is {why}; only a folder of this user that only it can write is.");
                    return null;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log($"Not using the digest cache {folder}: {e.Message}");
            return null;
        }

        return new DigestCache(folder);
    }

    /// <summary>The remembered digests of the files of one source folder, by file name, with the identity each was computed for.</summary>
    public Dictionary<string, KnownDigest> Read(string sourceFolder)
    {
        var result = new Dictionary<string, KnownDigest>(StringComparer.Ordinal);
        string path = EntryPath(sourceFolder);
        try
        {
            if (!File.Exists(path))
            {
                return result;
            }

            string[] lines = File.ReadAllLines(path);
            if (lines.Length < 2 || lines[0] != Version || lines[1] != sourceFolder)
            {
                return result; // another format, or (against all odds) another folder with the same hash
            }

            foreach (string line in lines.Skip(2))
            {
                string[] f = line.Split('\t');
                if (f.Length == 3 && FileDigest.Parse(f[2]) is { } digest && f[0].Length > 0 && !f[0].Contains('/'))
                {
                    result[f[0]] = new KnownDigest(f[1], digest);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return result;
    }

    /// <summary>Writes a folder's entries (the remembered ones still valid plus the new), by rename; failures are ignored.</summary>
    public void Write(string sourceFolder, IReadOnlyDictionary<string, KnownDigest> entries)
    {
        var text = new StringBuilder().Append(Version).Append('\n').Append(sourceFolder).Append('\n');
        foreach (string name in entries.Keys.Order(StringComparer.Ordinal))
        {
            (string identity, FileDigest digest) = entries[name];
            if (!name.Contains('\t') && !name.Contains('\n') && !identity.Contains('\t') && !identity.Contains('\n'))
            {
                text.Append(name).Append('\t').Append(identity).Append('\t').Append(digest).Append('\n');
            }
        }

        WriteFile(EntryPath(sourceFolder), text.ToString());
    }

    private const string OwnersVersion = "ocibundle-dpkg-owners 1";

    private const string InstalledVersion = "ocibundle-dpkg-status 1";

    /// <summary>
    /// The package owning each path a plan asked about, remembered for a dpkg info folder whose lists had exactly the
    /// identities <paramref name="key"/> hashes (""  for a path no package lists); null when there is none for them.
    /// </summary>
    public IReadOnlyDictionary<string, string>? ReadOwners(string infoFolder, string key) =>
        ReadAnswers(OwnersVersion, "dpkg " + infoFolder, infoFolder, key, question => question.StartsWith('/'));

    /// <summary>Writes the owners of the paths asked about, by rename; failures are ignored (the lists are read next time).</summary>
    public void WriteOwners(string infoFolder, string key, IReadOnlyDictionary<string, string> owners) =>
        WriteAnswers(OwnersVersion, "dpkg " + infoFolder, infoFolder, key, owners.Where(o => o.Key.StartsWith('/')));

    /// <summary>
    /// The status stanza (trimmed, as <c>DpkgPackage.Stanza</c>) of each package a plan asked about, remembered for a
    /// dpkg status file of exactly the identity <paramref name="identity"/> ("" for a package it does not list as
    /// installed); null when there is none for that identity.
    /// </summary>
    public IReadOnlyDictionary<string, string>? ReadInstalled(string statusFile, string identity)
    {
        IReadOnlyDictionary<string, string>? encoded = ReadAnswers(InstalledVersion, "dpkg-status " + statusFile, statusFile, identity, question => question.Length > 0 && !question.Contains('/'));
        try
        {
            return encoded?.ToDictionary(a => a.Key, a => Encoding.UTF8.GetString(Convert.FromBase64String(a.Value)), StringComparer.Ordinal);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Writes the stanzas of the packages asked about, by rename; failures are ignored (the status file is read next time).</summary>
    public void WriteInstalled(string statusFile, string identity, IReadOnlyDictionary<string, string> stanzas) =>
        WriteAnswers(InstalledVersion, "dpkg-status " + statusFile, statusFile, identity, stanzas
            .Where(s => s.Key.Length > 0 && !s.Key.Contains('/'))
            .Select(s => KeyValuePair.Create(s.Key, Convert.ToBase64String(Encoding.UTF8.GetBytes(s.Value)))));

    private const string LicensesVersion = "ocibundle-licenses 1";

    /// <summary>The license expressions read from files (Debian copyright files, nuspecs), by path, with the identity each was read at.</summary>
    public Dictionary<string, (string Identity, string License)> ReadLicenses()
    {
        var result = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        try
        {
            foreach ((string path, string encoded) in ReadAnswers(LicensesVersion, "licenses", "licenses", "1", question => question.StartsWith('/')) ?? new Dictionary<string, string>())
            {
                string[] parts = Encoding.UTF8.GetString(Convert.FromBase64String(encoded)).Split('\n');
                if (parts.Length == 2)
                {
                    result[path] = (parts[0], parts[1]);
                }
            }
        }
        catch (FormatException)
        {
            result.Clear();
        }

        return result;
    }

    /// <summary>Writes the license expressions (those still known plus the new), by rename; failures are ignored.</summary>
    public void WriteLicenses(IReadOnlyDictionary<string, (string Identity, string License)> licenses) =>
        WriteAnswers(LicensesVersion, "licenses", "licenses", "1", licenses
            .Where(l => l.Key.StartsWith('/') && !l.Value.Identity.Contains('\n') && !l.Value.License.Contains('\n'))
            .Select(l => KeyValuePair.Create(l.Key, Convert.ToBase64String(Encoding.UTF8.GetBytes(l.Value.Identity + "\n" + l.Value.License)))));

    /// <summary>One question per line, "question\tanswer", after the format's version, the folder or file asked about and the key the answers hold for.</summary>
    private IReadOnlyDictionary<string, string>? ReadAnswers(string version, string entry, string about, string key, Func<string, bool> validQuestion)
    {
        string path = EntryPath(entry);
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }

            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            using var reader = new StreamReader(path, Encoding.UTF8);
            if (reader.ReadLine() != version || reader.ReadLine() != about || reader.ReadLine() != key)
            {
                return null; // another format, another folder with the same hash, or an input changed since
            }

            while (reader.ReadLine() is { } line)
            {
                int tab = line.IndexOf('\t');
                if (tab <= 0 || !validQuestion(line[..tab]))
                {
                    return null;
                }

                result[line[..tab]] = line[(tab + 1)..];
            }

            return result;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void WriteAnswers(string version, string entry, string about, string key, IEnumerable<KeyValuePair<string, string>> answers)
    {
        var text = new StringBuilder().Append(version).Append('\n').Append(about).Append('\n').Append(key).Append('\n');
        foreach ((string question, string answer) in answers.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            if (!question.Contains('\t') && !question.Contains('\n') && !answer.Contains('\t') && !answer.Contains('\n'))
            {
                text.Append(question).Append('\t').Append(answer).Append('\n');
            }
        }

        WriteFile(EntryPath(entry), text.ToString());
    }

    private const string PackagesVersion = "ocibundle-nupkg-sha512 1";

    /// <summary>The SHA-512 of the .nupkg files of a NuGet package folder hashed before, by path inside it, with the identity each was computed for.</summary>
    public Dictionary<string, (string Identity, string Sha512)> ReadPackageHashes(string packageRoot)
    {
        var result = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        string path = EntryPath("nupkg " + packageRoot);
        try
        {
            if (!File.Exists(path))
            {
                return result;
            }

            string[] lines = File.ReadAllLines(path);
            if (lines.Length < 2 || lines[0] != PackagesVersion || lines[1] != packageRoot)
            {
                return result;
            }

            foreach (string line in lines.Skip(2))
            {
                string[] f = line.Split('\t');
                if (f.Length == 3 && f[0].Length > 0 && f[2].Length == 128 && f[2].All(char.IsAsciiHexDigitLower))
                {
                    result[f[0]] = (f[1], f[2]);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return result;
    }

    /// <summary>Writes a package folder's .nupkg hashes (those still known plus the new), by rename; failures are ignored.</summary>
    public void WritePackageHashes(string packageRoot, IReadOnlyDictionary<string, (string Identity, string Sha512)> entries)
    {
        var text = new StringBuilder().Append(PackagesVersion).Append('\n').Append(packageRoot).Append('\n');
        foreach ((string name, (string identity, string sha512)) in entries.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (!name.Contains('\t') && !name.Contains('\n') && !identity.Contains('\t') && !identity.Contains('\n'))
            {
                text.Append(name).Append('\t').Append(identity).Append('\t').Append(sha512).Append('\n');
            }
        }

        WriteFile(EntryPath("nupkg " + packageRoot), text.ToString());
    }

    private static void WriteFile(string path, string text)
    {
        string temp = $"{path}.tmp-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(Encoding.UTF8.GetBytes(text));
            }

            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
            }
        }
    }

    private string EntryPath(string sourceFolder) =>
        Path.Combine(_folder, Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sourceFolder)))[..32].ToLowerInvariant());
}
