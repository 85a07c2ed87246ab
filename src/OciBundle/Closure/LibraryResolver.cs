using OciBundle.Elf;
using OciBundle.Model;
using OciBundle.Sysroots;
using OciBundle.State;

namespace OciBundle.Closure;

/// <summary>
/// Finds the file a <c>DT_NEEDED</c> name (or a <c>dlopen</c> name) loads, in the order glibc's <c>ld.so</c> uses:
/// <list type="number">
/// <item><c>DT_RPATH</c> of the requesting object, then of its loader and so on up the chain, unless the requester has <c>DT_RUNPATH</c>;</item>
/// <item><c>DT_RUNPATH</c> of the requesting object;</item>
/// <item>the sysroot's <c>ld.so.cache</c>, then the directories of its <c>ld.so.conf</c> (for a sysroot whose cache is stale or absent);</item>
/// <item>the interpreter's built-in directories, multiarch ones first.</item>
/// </list>
/// <c>LD_LIBRARY_PATH</c> is never consulted: it belongs to the build machine, not to the container.
/// A candidate of another class, byte order or machine is skipped, as <c>ld.so</c> skips it.
/// Paths are looked up in the bundle being planned first (so <c>$ORIGIN</c> inside <c>/app</c> finds the app's own
/// libraries), then in the sysroot.
/// </summary>
internal sealed class LibraryResolver
{
    private readonly SysrootView _sysroot;
    private readonly TargetArchitecture _arch;
    private readonly RootfsPlan _plan;
    private readonly LdSoCache _cache;
    private readonly IReadOnlyList<string> _confDirectories;
    private readonly Dictionary<string, LibraryLocation?> _candidates = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LibraryLocation?> _systemLookups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ElfIdentity?> _identities = new(StringComparer.Ordinal);
    private readonly List<string> _claimed = new();
    private readonly Dictionary<string, string> _rejected = new(StringComparer.Ordinal);

    public LibraryResolver(SysrootView sysroot, TargetArchitecture arch, RootfsPlan plan, LdSoCache cache, IReadOnlyList<string> confDirectories)
    {
        _sysroot = sysroot;
        _arch = arch;
        _plan = plan;
        _cache = cache;
        _confDirectories = confDirectories;
    }

    public static LibraryResolver ForSysroot(SysrootView sysroot, TargetArchitecture arch, RootfsPlan plan) =>
        new(sysroot, arch, plan, LoadCache(sysroot), LdSoConf.ReadDirectories(sysroot));

    private static LdSoCache LoadCache(SysrootView sysroot)
    {
        sysroot.Inputs?.Path(sysroot.HostPath("/etc/ld.so.cache"));
        return LdSoCache.Load(sysroot.HostPath("/etc/ld.so.cache"));
    }

    /// <summary>
    /// The major versions N of <c>prefix.N</c> the loader could find, highest first: the names in the sysroot's
    /// ld.so.cache and in the loader's directories (what a shim that probes versions, like ICU's, would find).
    /// </summary>
    public IReadOnlyCollection<int> SonameVersions(string prefix)
    {
        var versions = new List<int>();
        void Add(string fileName)
        {
            // A pattern "x.so.*" also matches "x.so" (the dot may match the end): only names with a number after it.
            if (fileName.Length > prefix.Length + 1 && fileName.StartsWith(prefix + ".", StringComparison.Ordinal))
            {
                string suffix = fileName[(prefix.Length + 1)..];
                int dot = suffix.IndexOf('.');
                if (int.TryParse(dot < 0 ? suffix : suffix[..dot], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int major) && major > 0)
                {
                    if (!versions.Contains(major))
                    {
                        versions.Add(major);
                    }
                }
            }
        }

        foreach (string name in _cache.Names)
        {
            Add(name);
        }

        // Each folder's names read once, as bytes, and only those that start with the prefix made strings: the library
        // folders hold over a thousand names, and a merged /usr reaches each by two paths.
        byte[] start = System.Text.Encoding.UTF8.GetBytes(prefix + ".");
        var ledger = _sysroot.Inputs ?? new InputLedger();
        foreach (string dir in SystemDirectories)
        {
            foreach (byte[] name in ledger.ListingNames(_sysroot.HostPath(dir)))
            {
                if (name.AsSpan().StartsWith(start))
                {
                    Add(System.Text.Encoding.UTF8.GetString(name));
                }
            }
        }

        // Highest first. A list, not a sorted set: a framework generic over int is compiled on each publish.
        versions.Sort();
        versions.Reverse();
        return versions;
    }

    /// <summary>
    /// Which machine's C library the sysroot does hold, if any: the one fact that tells a user why (an amd64 sysroot, or
    /// the build machine's own root, for an arm64 bundle), so the message says it instead of listing every library.
    /// </summary>
    public string WhatTheSysrootHolds()
    {
        foreach (string goArch in TargetArchitecture.GoArchNames.Where(a => a != _arch.GoArch))
        {
            TargetArchitecture other = TargetArchitecture.Find(goArch, out _)!;
            foreach (string dir in other.DefaultLibraryDirectories)
            {
                if (_sysroot.Resolve(dir + "/libc.so.6") is { IsDirectory: false } libc
                    && ElfFile.TryReadIdentity(_sysroot.HostPath(libc.RealPath)) is { } identity && identity == other.Identity)
                {
                    return $"; it holds {goArch} libraries ({dir}/libc.so.6){(_sysroot.IsHostRoot ? ", the build machine's own" : "")}";
                }
            }
        }

        return _sysroot.IsHostRoot ? "; this is the build machine's own root" : "";
    }

    /// <summary>Where a sysroot path is on the build machine.</summary>
    public string SysrootHostPath(string path) => _sysroot.HostPath(path);

    /// <summary>Resolves <paramref name="name"/> as loaded by <paramref name="requester"/> (null: a dlopen with no RPATH context).</summary>
    public LibraryLocation? Resolve(string name, ElfNode? requester)
    {
        if (name.Contains('/'))
        {
            // A name with a slash is a path: ld.so opens it as it is (relative ones against the cwd, which we cannot know).
            return name.StartsWith('/') ? Probe(ContainerPath.Normalize(name)) : null;
        }

        if (requester is not null)
        {
            if (requester.File.RunPath.Count == 0)
            {
                for (ElfNode? n = requester; n is not null; n = n.Loader)
                {
                    if (SearchDirectories(name, n.File.RPath, n) is { } found)
                    {
                        return found;
                    }
                }
            }

            if (SearchDirectories(name, requester.File.RunPath, requester) is { } viaRunPath)
            {
                return viaRunPath;
            }
        }

        return ResolveSystem(name);
    }

    /// <summary>Resolves a name through the cache and default directories only (what a plain <c>dlopen("libx.so.N")</c> does).</summary>
    public LibraryLocation? ResolveSystem(string name)
    {
        if (_systemLookups.TryGetValue(name, out LibraryLocation? cached))
        {
            return cached;
        }

        LibraryLocation? found = null;
        foreach (string path in _cache.Lookup(name))
        {
            if ((found = Probe(path)) is not null)
            {
                break;
            }
        }

        if (found is null)
        {
            foreach (string dir in _confDirectories.Concat(_arch.DefaultLibraryDirectories))
            {
                if ((found = Probe(ContainerPath.Join(dir, name))) is not null)
                {
                    break;
                }
            }
        }

        _systemLookups[name] = found;
        return found;
    }

    /// <summary>The directories the system search would look in (for probing versioned names such as ICU's).</summary>
    public IEnumerable<string> SystemDirectories => _confDirectories.Concat(_arch.DefaultLibraryDirectories).Distinct(StringComparer.Ordinal);

    private LibraryLocation? SearchDirectories(string name, IReadOnlyList<string> dirs, ElfNode owner)
    {
        foreach (string raw in dirs)
        {
            string? dir = Expand(raw, owner);
            if (dir is not null && Probe(ContainerPath.Join(dir, name)) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>Expands <c>$ORIGIN</c>, <c>$LIB</c> and <c>$PLATFORM</c> (and their braced forms) as ld.so does.</summary>
    private string? Expand(string dir, ElfNode owner)
    {
        string origin = ContainerPath.Parent(owner.RequestedPath);
        string lib = _arch.Identity.Class == ElfClass.Elf64 ? "lib64" : "lib";
        string platform = _arch.MultiarchTriplet.Split('-')[0];
        string expanded = dir
            .Replace("${ORIGIN}", origin, StringComparison.Ordinal).Replace("$ORIGIN", origin, StringComparison.Ordinal)
            .Replace("${LIB}", lib, StringComparison.Ordinal).Replace("$LIB", lib, StringComparison.Ordinal)
            .Replace("${PLATFORM}", platform, StringComparison.Ordinal).Replace("$PLATFORM", platform, StringComparison.Ordinal);

        // A relative entry is relative to the process's working directory, which is not knowable at build time.
        return expanded.StartsWith('/') ? ContainerPath.Normalize(expanded) : null;
    }

    /// <summary>Looks at one candidate path: in the plan first, then in the sysroot; null when absent or of the wrong identity.</summary>
    public LibraryLocation? Probe(string path)
    {
        if (_candidates.TryGetValue(path, out LibraryLocation? cached))
        {
            return cached;
        }

        LibraryLocation? found;
        if (_plan.TryGet(path, out RootfsEntry planned) && planned is { Kind: RootfsEntryKind.File, SourcePath: { } source } && ElfFile.TryReadIdentity(source) is null)
        {
            // Something that is not ELF at a path the loader looks at (an OciBundleFile over a library): the bundle
            // has it there, not the sysroot's file, and ld.so would skip it.
            _rejected[path] = source;
            found = null;
        }
        else
        {
            found = ProbePlan(path) ?? (IsClaimed(path) ? null : ProbeSysroot(path));
        }

        _candidates[path] = found;
        return found;
    }

    /// <summary>Drops what was found at a path the plan no longer has (an optional file left out), so no later probe finds it there.</summary>
    public void Forget(string rootfsPath)
    {
        foreach (string key in _candidates.Where(c => c.Key == rootfsPath || c.Value?.RealPath == rootfsPath).Select(c => c.Key).ToList())
        {
            _candidates.Remove(key);
        }
    }

    /// <summary>Paths of the plan where a library was looked for and a file that is not ELF was found, with its source.</summary>
    public IReadOnlyDictionary<string, string> RejectedPlanFiles => _rejected;

    /// <summary>
    /// Marks a directory of rootfs as filled by the bundle alone (the app's folder, a copied framework): a path
    /// below it is looked for in the plan only, never in the sysroot's folder of the same name.
    /// </summary>
    public void Claim(string directory) => _claimed.Add(directory.TrimEnd('/') + "/");

    private bool IsClaimed(string path) => _claimed.Any(c => path.StartsWith(c, StringComparison.Ordinal));

    private LibraryLocation? ProbePlan(string path)
    {
        string current = path;
        var links = new List<SymlinkHop>();
        for (int hop = 0; hop < 40 && _plan.TryGet(current, out RootfsEntry entry); hop++)
        {
            switch (entry.Kind)
            {
                case RootfsEntryKind.File when entry.SourcePath is not null:
                    return Matches(entry.SourcePath) ? new LibraryLocation(path, current, entry.SourcePath, links, InPlan: true) : null;
                case RootfsEntryKind.Symlink:
                    links.Add(new SymlinkHop(current, entry.LinkTarget!));
                    current = ContainerPath.Normalize(entry.LinkTarget!.StartsWith('/') ? entry.LinkTarget : ContainerPath.Join(ContainerPath.Parent(current), entry.LinkTarget));
                    break;
                default:
                    return null;
            }
        }

        return null;
    }

    private LibraryLocation? ProbeSysroot(string path)
    {
        ResolvedPath? resolved = _sysroot.Resolve(path);
        if (resolved is null || resolved.IsDirectory)
        {
            return null;
        }

        string host = _sysroot.HostPath(resolved.RealPath);
        return Matches(host) ? new LibraryLocation(path, resolved.RealPath, host, resolved.Links, InPlan: false) : null;
    }

    private bool Matches(string hostPath)
    {
        if (!_identities.TryGetValue(hostPath, out ElfIdentity? id))
        {
            _identities[hostPath] = id = ElfFile.TryReadIdentity(hostPath);
        }

        return id == _arch.Identity;
    }
}

/// <summary>Where a library name led: the path asked for, the real file behind it, and the links in between.</summary>
/// <param name="RequestedPath">The path as the loader opens it (what <c>$ORIGIN</c> of the library is computed from).</param>
/// <param name="RealPath">The path of the real file inside rootfs.</param>
/// <param name="HostPath">Where the real file is on the build machine.</param>
/// <param name="Links">Symlinks passed on the way, to be reproduced in rootfs.</param>
/// <param name="InPlan">True when the file is already part of the bundle (the app's own, or found earlier).</param>
internal sealed record LibraryLocation(string RequestedPath, string RealPath, string HostPath, IReadOnlyList<SymlinkHop> Links, bool InPlan);
