using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Sysroots;

namespace OciBundle.Closure;

/// <summary>
/// Which package of the sysroot owns each path, from its dpkg database (<c>var/lib/dpkg/info/*.list</c>), read once
/// per plan. A data rule takes a file only when a package installed it, so nothing the build machine made for itself
/// (a generated key, a local file dropped into a data folder) reaches rootfs unless the user names it; and scanners
/// are told which packages are inside. Paths are as the sysroot stores them: a merged-usr sysroot's
/// <c>/lib -&gt; usr/lib</c> makes a listed <c>/lib/x</c> the real <c>/usr/lib/x</c>.
/// </summary>
/// <remarks>
/// Inputs of the up-to-date check: the folder (dpkg replaces a list by renaming a new one in, which changes the
/// folder) and the list of each package the plan uses (<see cref="OwnerOf"/>), not all of the hundreds.
/// A build machine's own database is hundreds of lists and a hundred thousand paths, most of a full plan's time to
/// read; so the answers a plan asked for are remembered in the per-user cache (<see cref="Storage.DigestCache"/>) under
/// the identity of every list, and the lists are read again only when one changed or a path was never asked.
/// </remarks>
internal sealed class PackageDatabase
{
    /// <summary>The folder dpkg keeps its file lists in.</summary>
    public const string InfoDirectory = "/var/lib/dpkg/info";

    private const long MaxListBytes = 16 << 20;
    private const long MaxStatusBytes = 256 << 20;

    private static readonly string[] MergedDirectories = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

    /// <summary>The file of installed packages, their versions and origins.</summary>
    public const string StatusFile = "/var/lib/dpkg/status";

    private readonly SysrootView _sysroot;
    private readonly HashSet<string> _recorded = new(StringComparer.Ordinal);
    private readonly Func<DpkgListIndex> _readLists;
    private readonly IReadOnlyDictionary<string, string>? _remembered;
    private readonly Dictionary<string, string> _asked = new(StringComparer.Ordinal);
    private readonly (Storage.DigestCache Cache, string Folder, string Key)? _store;
    private readonly object _gate = new();
    private DpkgListIndex? _owners;
    private bool _learned;
    private Dictionary<string, DpkgPackage>? _installed;
    private StatusAnswers? _status;

    private PackageDatabase(SysrootView sysroot, Func<DpkgListIndex> readLists, IReadOnlyDictionary<string, string>? remembered, (Storage.DigestCache, string, string)? store)
    {
        _sysroot = sysroot;
        _readLists = readLists;
        _remembered = remembered;
        _store = store;
    }

    /// <summary>
    /// The installed package a name from <see cref="OwnerOf"/> (<c>libc6:amd64</c>, <c>tzdata</c>) stands for, from
    /// the status file; null when the status file does not list it as installed (a package being removed).
    /// </summary>
    public DpkgPackage? Installed(string package)
    {
        if (_status is null)
        {
            // The status file's identity before it is read: the answers kept are those of exactly that file.
            string statusPath = _sysroot.RegularFile(StatusFile) ?? _sysroot.HostPath(StatusFile);
            _sysroot.Inputs?.Path(statusPath);
            string identity = State.InputLedger.PathIdentity(statusPath);
            _status = new StatusAnswers(statusPath, identity, _store?.Cache.ReadInstalled(statusPath, identity));
        }

        if (_installed is null && _status.Recall(package) is { } recalled)
        {
            return recalled.Package;
        }

        if (_installed is null)
        {
            try
            {
                _installed = _sysroot.ReadText(StatusFile, MaxStatusBytes) is { } status ? DpkgPackage.ReadStatus(status) : new(StringComparer.Ordinal);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                throw new OciBundleException(Diagnostics.Strings.RuntimeConfigUnreadable, _sysroot.HostPath(StatusFile), e.Message);
            }

            // Kept only when the file read is still the one whose identity the answers go under.
            _status.Learned = State.InputLedger.PathIdentity(_status.Path) == _status.Identity;
        }

        DpkgPackage? found = _installed.TryGetValue(package, out DpkgPackage? direct) || _installed.TryGetValue(package.Split(':')[0], out direct) ? direct : null;
        _status.Asked[package] = found?.Stanza ?? "";
        return found;
    }

    /// <summary>The status file's answers remembered for its identity, and those given in this plan.</summary>
    private sealed class StatusAnswers
    {
        public StatusAnswers(string path, string identity, IReadOnlyDictionary<string, string>? remembered)
        {
            Path = path;
            Identity = identity;
            Remembered = remembered;
        }

        public string Path { get; }

        public string Identity { get; }

        public IReadOnlyDictionary<string, string>? Remembered { get; }

        public Dictionary<string, string> Asked { get; } = new(StringComparer.Ordinal);

        public bool Learned { get; set; }

        private readonly Dictionary<string, DpkgPackage?> _recalled = new(StringComparer.Ordinal);

        /// <summary>
        /// The remembered answer for <paramref name="package"/> (its package, or null for one not installed), made
        /// from its stanza as the status file's own would be; null when there is none, or it is not that package's.
        /// </summary>
        public (DpkgPackage? Package, bool Known)? Recall(string package)
        {
            if (_recalled.TryGetValue(package, out DpkgPackage? again))
            {
                return (again, true);
            }

            if (Remembered is null || !Remembered.TryGetValue(package, out string? stanza))
            {
                return null;
            }

            DpkgPackage? found = null;
            if (stanza.Length > 0 && (DpkgPackage.ReadStatus(stanza).Values.FirstOrDefault() is not { } parsed || parsed.Name != package.Split(':')[0] || (found = parsed).Stanza != stanza))
            {
                return null;
            }

            Asked[package] = stanza;
            _recalled[package] = found;
            return (found, true);
        }
    }

    /// <summary>
    /// The database; null when the sysroot has none (not Debian-based, or a folder made by hand), where the caller
    /// decides what a missing owner means. A path two packages list (a shared folder) belongs to the first by name.
    /// </summary>
    public static PackageDatabase? Read(SysrootView sysroot, Storage.DigestCache? cache = null)
    {
        // Read as inside the sysroot: a sysroot whose var/lib/dpkg links to /var/lib/dpkg is read at its own, never the host's.
        ResolvedPath? infoFolder = sysroot.Resolve(InfoDirectory);
        string info = sysroot.HostPath(infoFolder?.RealPath ?? InfoDirectory);
        sysroot.Inputs?.Path(info);
        if (infoFolder is not { IsDirectory: true })
        {
            return null;
        }

        // An info folder with no package lists is no database either: mmdebstrap --variant=extract writes one.
        sysroot.Inputs?.Listing(info);
        if (!Directory.EnumerateFiles(info, "*.list").Any())
        {
            return null;
        }

        string[] merged = MergedDirectories
            .Where(d => new FileInfo(sysroot.HostPath("/" + d)).LinkTarget is { } target && target.TrimStart('/').TrimEnd('/') == "usr/" + d)
            .Select(d => "/" + d + "/")
            .ToArray();
        sysroot.Inputs?.Listing(info);

        // The lists dpkg made, each known by its identity (a stat each): what the remembered answers were read from.
        var lists = new List<(string Package, string Path)>();
        using var key = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        key.AppendData(System.Text.Encoding.UTF8.GetBytes($"dpkg-owners 1\n{string.Join(' ', merged)}\n"));
        foreach (string list in Directory.EnumerateFiles(info, "*.list").Order(StringComparer.Ordinal))
        {
            string package = Path.GetFileName(list)[..^".list".Length];
            if (!IsPackageName(package))
            {
                continue; // not a package dpkg would have made (a name with '/', '..', spaces): its list is not trusted
            }

            // The list itself, never what a link in its place points at; a list no package has is a few hundred KiB.
            if (NativeMethods.LStat(list) is not { } st || (st.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG || (long)st.Size > MaxListBytes)
            {
                continue;
            }

            lists.Add((package, list));
            key.AppendData(System.Text.Encoding.UTF8.GetBytes($"{package}\t{NativeMethods.Identity(st)}\n"));
        }

        DpkgListIndex ReadLists() => DpkgListIndex.Read(lists, merged, MaxListBytes);

        string identity = "sha256:" + Convert.ToHexString(key.GetHashAndReset()).ToLowerInvariant();
        // Only answers naming a package whose list was hashed into the key (or none): never a name that becomes a path.
        var listed = lists.Select(l => l.Package).ToHashSet(StringComparer.Ordinal);
        IReadOnlyDictionary<string, string>? remembered = cache?.ReadOwners(info, identity);
        if (remembered is not null && remembered.Values.Any(owner => owner.Length > 0 && !listed.Contains(owner)))
        {
            remembered = null;
        }

        return new PackageDatabase(sysroot, ReadLists, remembered, cache is null ? null : (cache, info, identity))
        {
            HasStatus = sysroot.RegularFile(StatusFile) is not null,
        };
    }

    /// <summary>Remembers the answers given (with those remembered before) for the next plan; nothing when nothing new was asked.</summary>
    public void Save()
    {
        lock (_gate)
        {
            if (_store is not { } store)
            {
                return;
            }

            if (_status is { Learned: true } status)
            {
                var stanzas = new Dictionary<string, string>(status.Remembered ?? new Dictionary<string, string>(), StringComparer.Ordinal);
                foreach ((string package, string stanza) in status.Asked)
                {
                    stanzas[package] = stanza;
                }

                store.Cache.WriteInstalled(status.Path, status.Identity, stanzas);
            }

            if (!_learned && _remembered is not null)
            {
                return;
            }

            var all = new Dictionary<string, string>(_remembered ?? new Dictionary<string, string>(), StringComparer.Ordinal);
            foreach ((string path, string owner) in _asked)
            {
                all[path] = owner;
            }

            store.Cache.WriteOwners(store.Folder, store.Key, all);
        }
    }

    /// <summary>Whether the database has its status file, where installed packages' versions are (lists alone name only owners).</summary>
    public bool HasStatus { get; private init; }

    /// <summary>Debian policy's package names (<c>libstdc++6</c>), with dpkg's <c>:arch</c> for multi-arch lists.</summary>
    internal static bool IsPackageName(string name)
    {
        int colon = name.IndexOf(':');
        string bare = colon < 0 ? name : name[..colon];
        string arch = colon < 0 ? "" : name[(colon + 1)..];
        return bare.Length >= 2 && (char.IsAsciiLetterLower(bare[0]) || char.IsAsciiDigit(bare[0]))
            && bare.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '+' or '-' or '.')
            && (colon < 0 || (arch.Length > 0 && arch.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')));
    }

    /// <summary>
    /// Reads the package lists now when no answers were remembered for them (a first plan on this machine, or after a
    /// package change): every <see cref="OwnerOf"/> would read them first. The planner calls it on another core.
    /// </summary>
    public void ReadListsIfForgotten()
    {
        lock (_gate)
        {
            if (_remembered is null)
            {
                _owners ??= _readLists();
            }
        }
    }

    /// <summary>The package (<c>libc6:amd64</c>, <c>tzdata</c>) that lists <paramref name="path"/>, a real path of the sysroot; its list becomes an input.</summary>
    public string? OwnerOf(string path)
    {
        string? package;
        lock (_gate)
        {
            if (_remembered is not null && _remembered.TryGetValue(path, out string? known))
            {
                package = known.Length == 0 ? null : known;
            }
            else
            {
                _owners ??= _readLists();
                package = _owners.OwnerOf(path);
                _learned = true;
            }

            _asked[path] = package ?? "";
            if (package is null || !_recorded.Add(package))
            {
                return package;
            }
        }

        _sysroot.Inputs?.Path(_sysroot.HostPath($"{InfoDirectory}/{package}.list"));
        return package;
    }
}

/// <summary>One installed package of a dpkg status file: what scanners match advisories on.</summary>
/// <param name="Name">The binary package (<c>libc6</c>).</param>
/// <param name="Architecture"><c>amd64</c>, <c>arm64</c>, or <c>all</c>.</param>
/// <param name="Version">As dpkg has it, epoch included (<c>1:1.2.13.dfsg-1</c>).</param>
/// <param name="SourceName">The source package (<c>glibc</c>); the name itself when the stanza has no Source.</param>
/// <param name="SourceVersion">The source's version when it differs from the binary's (<c>Source: glibc (2.36-9)</c>), else the version.</param>
/// <param name="Maintainer">The Maintainer field, or null.</param>
/// <param name="Stanza">The stanza trimmed to what scanners read, in dpkg's order of fields.</param>
internal sealed record DpkgPackage(string Name, string Architecture, string Version, string SourceName, string SourceVersion, string? Maintainer, string Stanza)
{
    // The fields a scanner matches advisories on, in dpkg's order; the rest (descriptions, dependencies) is left out.
    private static readonly string[] KeptFields = { "Package", "Status", "Priority", "Section", "Installed-Size", "Maintainer", "Architecture", "Multi-Arch", "Source", "Version" };

    /// <summary>The installed packages of a status file, by <c>name</c> (the first one listed) and by <c>name:arch</c>.</summary>
    public static Dictionary<string, DpkgPackage> ReadStatus(string status)
    {
        var result = new Dictionary<string, DpkgPackage>(StringComparer.Ordinal);
        foreach (string block in status.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (string line in block.Split('\n'))
            {
                int colon = line.IndexOf(':');
                if (colon > 0 && !char.IsWhiteSpace(line[0]))
                {
                    fields[line[..colon]] = line[(colon + 1)..].Trim();
                }
            }

            if (!fields.TryGetValue("Package", out string? name) || !fields.TryGetValue("Status", out string? state) || !state.EndsWith(" installed", StringComparison.Ordinal)
                || !fields.TryGetValue("Version", out string? version))
            {
                continue;
            }

            var text = new System.Text.StringBuilder();
            foreach (string field in KeptFields.Where(fields.ContainsKey))
            {
                text.Append(field).Append(": ").Append(fields[field]).Append('\n');
            }

            string arch = fields.TryGetValue("Architecture", out string? a) ? a : "all";
            string sourceName = name, sourceVersion = version;
            if (fields.TryGetValue("Source", out string? source) && source.Length > 0)
            {
                int paren = source.IndexOf('(');
                sourceName = (paren < 0 ? source : source[..paren]).Trim();
                if (paren >= 0 && source.EndsWith(')'))
                {
                    sourceVersion = source[(paren + 1)..^1].Trim();
                }
            }

            if (!PackageDatabase.IsPackageName(name) || name.Contains(':'))
            {
                continue; // not a name dpkg allows: nothing to trust in the stanza
            }

            var package = new DpkgPackage(name, arch, version, sourceName, sourceVersion, fields.TryGetValue("Maintainer", out string? m) ? m : null, text.ToString());
            result.TryAdd(name, package);
            result.TryAdd($"{name}:{arch}", package);
        }

        return result;
    }
}
