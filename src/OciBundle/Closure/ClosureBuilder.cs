using OciBundle.Diagnostics;
using OciBundle.Elf;
using OciBundle.Rootfs;
using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Sysroots;

namespace OciBundle.Closure;

/// <summary>
/// Walks the ELF closure of the files put into a <see cref="RootfsPlan"/>: every interpreter and every
/// <c>DT_NEEDED</c> library, transitively, resolved by <see cref="LibraryResolver"/> and added to the plan with
/// the symlinks on the way. Libraries that cannot be found are collected and reported together, each with the
/// file that needs it.
/// </summary>
internal sealed class ClosureBuilder : IClosure
{
    // Files the .NET runtime loads only if their own dependencies are there; ignored by the runtime when absent.
    private static readonly Dictionary<string, string> OptionalFiles = new(StringComparer.Ordinal)
    {
        ["libcoreclrtraceptprovider.so"] = "the LTTng tracing provider of the .NET runtime; the runtime runs without it",
    };

    private readonly SysrootView _sysroot;
    private readonly TargetArchitecture _arch;
    private readonly RootfsPlan _plan;
    private readonly LibraryResolver _resolver;
    private readonly Queue<ElfNode> _queue = new();
    private readonly Dictionary<string, ElfNode> _nodes = new(StringComparer.Ordinal);
    private readonly List<(string Library, string NeededBy)> _missing = new();
    private readonly HashSet<string> _interpreters = new(StringComparer.Ordinal);
    private readonly LeftOutFiles _leftOut;

    public ClosureBuilder(SysrootView sysroot, TargetArchitecture arch, RootfsPlan plan, LibraryResolver resolver, Action<string> log)
    {
        _sysroot = sysroot;
        _arch = arch;
        _plan = plan;
        _resolver = resolver;
        _leftOut = new LeftOutFiles(sysroot, log);
    }

    public LibraryResolver Resolver => _resolver;

    /// <summary>The sysroot the closure is taken from (with the ledger of what was looked at).</summary>
    public SysrootView Sysroot => _sysroot;

    /// <summary>Every ELF file found so far, by its real rootfs path.</summary>
    public IReadOnlyDictionary<string, ElfNode> Nodes => _nodes;

    public IEnumerable<ElfNode> Files => _nodes.Values;

    /// <summary>The real rootfs paths of every interpreter (<c>PT_INTERP</c>) found: the kernel executes them, so they are programs.</summary>
    public IReadOnlyCollection<string> Interpreters => _interpreters;

    /// <inheritdoc cref="LibraryResolver.SonameVersions"/>
    public IReadOnlyCollection<int> SonameVersions(string prefix) => _resolver.SonameVersions(prefix);

    /// <summary>Files left out (optional runtime parts whose dependencies the sysroot lacks, data files of a sysroot folder not everyone may read), with why.</summary>
    public IReadOnlyList<string> Omitted => _leftOut.Omitted;

    /// <summary>Coded warnings of the walk: optional data files of a sysroot folder left out by the host-file rule (OCIB1319).</summary>
    public IReadOnlyList<OciBundleException> Warnings => _leftOut.Warnings;

    /// <summary>
    /// Registers a file already in the plan (the app's own) for the walk, if it is ELF.
    /// An ELF file of another class or machine than the bundle's is an error.
    /// </summary>
    public ElfNode? AddPlannedFile(string rootfsPath, string hostPath, ElfNode? loader = null)
    {
        if (_nodes.TryGetValue(rootfsPath, out ElfNode? existing))
        {
            return existing;
        }

        if (ReadElf(hostPath) is not { } elf || elf.Type is not (ElfType.Executable or ElfType.SharedObject) || elf.IsDebugOnly)
        {
            return null; // not ELF, an object file, a core dump or a debug-symbol file: data to the loader
        }

        if (elf.Identity != _arch.Identity)
        {
            throw new OciBundleException(Strings.WrongMachine, rootfsPath, hostPath, elf.Identity, _arch.GoArch, _arch.Identity);
        }

        var node = new ElfNode(rootfsPath, rootfsPath, hostPath, elf, loader);
        _nodes[rootfsPath] = node;
        _queue.Enqueue(node);
        return node;
    }

    /// <summary>
    /// Brings a path of the sysroot into the bundle at the same path: the symlinks on the way, then the file
    /// (walked if ELF) or the directory tree. Returns the real path, or null when it does not exist.
    /// </summary>
    public string? AddSysrootPath(string path, string reason, Func<string, bool>? exclude = null) => AddSysrootPath(path, reason, exclude, optional: false);

    /// <summary>
    /// Like <see cref="AddSysrootPath(string, string, Func{string, bool}?)"/>, for data the product takes on its own
    /// (certificates, time zones, os-release): a file of a sysroot folder that not everyone may read is left out with
    /// warning OCIB1319, where a needed one is an error (OCIB1318). Null when it does not exist or was left out.
    /// </summary>
    public string? AddSysrootData(string path, string reason, Func<string, bool>? exclude = null) => AddSysrootPath(path, reason, exclude, optional: true);

    private string? AddSysrootPath(string path, string reason, Func<string, bool>? exclude, bool optional)
    {
        ResolvedPath? resolved = _sysroot.Resolve(path);
        if (resolved is null)
        {
            return null;
        }

        if (!resolved.IsDirectory && !_leftOut.IsPublic(resolved.RealPath, reason, optional))
        {
            return null; // left out, and so are the links to it
        }

        AddLinks(resolved.Links, resolved.RealPath);
        if (resolved.IsDirectory)
        {
            AddSysrootTree(resolved.RealPath, reason, exclude, optional);
        }
        else
        {
            AddSysrootFile(resolved.RealPath, resolved.RealPath, reason, loader: null);
        }

        return resolved.RealPath;
    }

    /// <summary>Reproduces the symlinks met on the way to a path (for a directory whose content is chosen file by file).</summary>
    public void AddSysrootLinks(ResolvedPath resolved) => AddLinks(resolved.Links, resolved.RealPath);

    /// <summary>Adds a library the way <c>dlopen(name)</c> would find it; false when the sysroot has none.</summary>
    public bool AddDlopen(string name, ElfNode? loader, string reason)
    {
        LibraryLocation? location = _resolver.Resolve(name, loader);
        if (location is null)
        {
            return false;
        }

        Place(name, location, reason, loader);
        return true;
    }

    /// <summary>
    /// Walks everything queued since the last call (the files added, and what they load, transitively); throws one error
    /// listing every library not found. Each step that adds to the closure calls it before the next step reads the
    /// closure: with nothing queued it does nothing, so a second call changes nothing.
    /// </summary>
    public void Complete()
    {
        while (_queue.Count > 0)
        {
            Walk(_queue.Dequeue());
        }

        if (_missing.Count > 0 && _resolver.ResolveSystem("libc.so.6") is null)
        {
            // Not one library missing but all of them: the sysroot is for another machine (an amd64 build host
            // and -r linux-arm64). Say that once, not as a list of eighty names.
            int count = _missing.Select(m => m.Library).Distinct(StringComparer.Ordinal).Count();
            _missing.Clear();
            throw new OciBundleException(Strings.SysrootLacksArchitecture, _sysroot.Root, _arch.GoArch, $"not even libc.so.6{_resolver.WhatTheSysrootHolds()}; the app needs {count} libraries");
        }

        if (_missing.Count > 0)
        {
            string list = string.Join("; ", _missing.Select(m => $"{m.Library} (needed by {m.NeededBy})"));
            _missing.Clear();
            throw new OciBundleException(Strings.LibraryNotFound, list, _sysroot.Root);
        }
    }

    /// <summary>One ELF file's interpreter and <c>DT_NEEDED</c> libraries: placed in the plan (and queued), or noted as missing.</summary>
    private void Walk(ElfNode node)
    {
        var found = new List<(string Name, LibraryLocation Location, string Reason)>();
        var missing = new List<string>();
        if (node.File.Interpreter is { } interp)
        {
            LibraryLocation? location = _resolver.Probe(ContainerPath.Normalize(interp));
            if (location is null)
            {
                missing.Add(interp);
            }
            else
            {
                found.Add((interp, location, $"interpreter (PT_INTERP) of {node.RootfsPath}"));
                _interpreters.Add(location.RealPath);
            }
        }

        foreach (string name in node.File.Needed)
        {
            LibraryLocation? location = _resolver.Resolve(name, node) ?? LoadedBySoName(name);
            if (location is null)
            {
                missing.Add(name);
            }
            else
            {
                found.Add((name, location, $"DT_NEEDED {name} of {node.RootfsPath}"));
            }
        }

        if (missing.Count > 0 && OptionalFiles.TryGetValue(Path.GetFileName(node.RootfsPath), out string? what))
        {
            _plan.Remove(node.RootfsPath);
            _nodes.Remove(node.RootfsPath);
            _resolver.Forget(node.RootfsPath);
            _leftOut.Add($"{node.RootfsPath} left out: it needs {string.Join(", ", missing)}, which the sysroot does not have ({what}).");
            return;
        }

        foreach (string name in missing)
        {
            string file = name.Contains('/') ? ContainerPath.Normalize(name) : name;
            if (_resolver.RejectedPlanFiles.FirstOrDefault(r => r.Key == file || Path.GetFileName(r.Key) == file) is { Key: not null } rejected)
            {
                throw new OciBundleException(Strings.LibraryNotElf, name, node.RootfsPath, rejected.Key, rejected.Value);
            }

            _missing.Add((name, node.RootfsPath));
        }

        foreach ((string name, LibraryLocation location, string reason) in found)
        {
            Place(name, location, reason, node);
        }
    }

    /// <summary>glibc satisfies a DT_NEEDED name by an already loaded object with that DT_SONAME.</summary>
    private LibraryLocation? LoadedBySoName(string name)
    {
        ElfNode? loaded = _nodes.Values.FirstOrDefault(n => n.File.SoName == name);
        return loaded is null ? null : new LibraryLocation(loaded.RequestedPath, loaded.RootfsPath, loaded.HostPath, Array.Empty<SymlinkHop>(), InPlan: true);
    }

    private void Place(string name, LibraryLocation location, string reason, ElfNode? loader)
    {
        if (location.InPlan)
        {
            AddLinks(location.Links, location.RealPath);
            if (!_nodes.ContainsKey(location.RealPath) && AddPlannedFile(location.RealPath, location.HostPath, loader) is null)
            {
                // A file the user put at a library's path (an OciBundleFile item) that the loader cannot load.
                throw new OciBundleException(Strings.LibraryNotElf, name, loader?.RootfsPath ?? "the .NET runtime (dlopen)", location.RealPath, location.HostPath);
            }

            return;
        }

        AddLinks(location.Links, location.RealPath);
        AddSysrootFile(location.RealPath, location.RequestedPath, reason, loader);
    }

    private void AddLinks(IReadOnlyList<SymlinkHop> links, string realPath)
    {
        foreach (SymlinkHop hop in links)
        {
            _plan.AddSymlink(hop.Path, hop.Target, $"symlink on the way to {realPath}");
        }
    }

    private void AddSysrootFile(string realPath, string requestedPath, string reason, ElfNode? loader)
    {
        if (_plan.TryGet(realPath, out RootfsEntry existing) && existing.Kind == RootfsEntryKind.File)
        {
            if (existing.SourcePath is { } source && source != _sysroot.HostPath(realPath) && !_nodes.ContainsKey(realPath))
            {
                // The user's file (an OciBundleFile) sits where the loader finds this library: it must be one.
                if (ElfFile.TryReadIdentity(source) is null)
                {
                    throw new OciBundleException(Strings.LibraryNotElf, Path.GetFileName(requestedPath), loader?.RootfsPath ?? "the bundle", realPath, source);
                }

                AddPlannedFile(realPath, source, loader);
            }

            return;
        }

        string host = _sysroot.HostPath(realPath);
        NativeMethods.Statx st = NativeMethods.LStat(host) ?? throw new OciBundleException(Strings.FileSourceNotFound, host);
        _leftOut.IsPublic(realPath, reason, optional: false);
        _plan.AddFile(realPath, host, (UnixFileMode)(st.Mode & 0xFFF), (long)st.Size, reason, st.Inode, publicSource: _sysroot.PublicFilesOnly);
        if (!_nodes.ContainsKey(realPath) && ReadElf(host) is { } elf)
        {
            if (elf.Identity == _arch.Identity && elf.Type is ElfType.Executable or ElfType.SharedObject && !elf.IsDebugOnly)
            {
                var node = new ElfNode(requestedPath, realPath, host, elf, loader);
                _nodes[realPath] = node;
                _queue.Enqueue(node);
            }
        }
    }

    /// <summary>Copies a directory of the sysroot as it is: files, subdirectories and symlinks (kept as links, never followed).</summary>
    private void AddSysrootTree(string realDir, string reason, Func<string, bool>? exclude, bool optional)
    {
        if (!_leftOut.IsFolderPublic(realDir, reason, optional))
        {
            return;
        }

        string hostDir = _sysroot.HostPath(realDir);

        _plan.AddDirectory(realDir, reason);
        _sysroot.Inputs?.Listing(hostDir);
        foreach (FileSystemInfo child in new DirectoryInfo(hostDir).EnumerateFileSystemInfos())
        {
            string path = ContainerPath.Join(realDir, child.Name);
            if (exclude?.Invoke(path) == true)
            {
                continue;
            }

            // One statx per entry: what it is, and its identity for the ledger (a tree of 1,800 time zone files).
            if (NativeMethods.LStat(child.FullName) is not { } st)
            {
                HostTree.ThrowIfNotUtf8(hostDir, child.Name);
                continue; // removed while we looked
            }

            _sysroot.Inputs?.Path(child.FullName, st);
            uint type = st.Mode & NativeMethods.S_IFMT;
            if (type == NativeMethods.S_IFLNK)
            {
                if (child.LinkTarget is { } target)
                {
                    _plan.AddSymlink(path, target, reason);
                }

                // else: no longer a link when read (replaced since the statx): left out, and the ledger's record of
                // the link makes the next publish look again.
            }
            else if (type == NativeMethods.S_IFDIR)
            {
                AddSysrootTree(path, reason, exclude, optional);
            }
            else if (type == NativeMethods.S_IFREG && _leftOut.IsPublic(path, reason, optional, st))
            {
                // Only regular files: .NET reports fifos and sockets as files, and opening a fifo would block.
                _plan.AddFile(path, child.FullName, (UnixFileMode)(st.Mode & 0xFFF), (long)st.Size, reason, st.Inode, publicSource: _sysroot.PublicFilesOnly);
            }
        }
    }

    private static ElfFile? ReadElf(string hostPath)
    {
        try
        {
            return ElfFile.TryRead(hostPath);
        }
        catch (ElfFormatException e)
        {
            throw new OciBundleException(Strings.CorruptElf, e.FilePath, e.Reason);
        }
    }
}
