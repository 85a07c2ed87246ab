using System.Text;
using OciBundle.Closure;
using OciBundle.Diagnostics;
using OciBundle.Dotnet;
using OciBundle.Elf;
using OciBundle.Rootfs;
using OciBundle.Request;
using OciBundle.RuntimeSpec;
using OciBundle.State;
using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Sysroots;

namespace OciBundle.Planning;

/// <summary>
/// Decides the whole bundle from a validated request: the app under the working directory, the shared frameworks
/// of a framework-dependent app, the ELF closure, what .NET loads with <c>dlopen</c>, the data files, and
/// config.json. Nothing is written here; <see cref="BundleWriter"/> writes the result.
/// </summary>
internal sealed class BundlePlanner
{
    private const string ContainerDotnetRoot = WellKnownPaths.DotnetRoot;

    /// <summary>ARG_MAX where the stack limit is the default 8 MiB: what execve takes of args and environment together.</summary>
    private const long MaxArgAndEnvironmentBytes = 2 * 1024 * 1024;

    private static readonly UnixFileMode FileMode644 = (UnixFileMode)0b110_100_100;
    private static readonly UnixFileMode Mode1777 = (UnixFileMode)0b1_111_111_111;
    private static readonly UnixFileMode Mode700 = (UnixFileMode)0b111_000_000;

    private readonly BundleRequest _request;
    private readonly Action<string> _log;
    private readonly RootfsPlan _plan = new();
    private readonly InputLedger _inputs = new();
    private readonly SysrootView _sysroot;
    private readonly Sysroots.MaterializedSysroot _materialized;
    private readonly IReadOnlyDictionary<string, string>? _knownDigests;
    private readonly CancellationToken _cancel;
    private readonly MountShadow _shadow;
    private readonly PortablePaths _paths;

    /// <summary>The per-user cache (digests, dpkg owners), opened and judged once per plan; null when there is none or it is not to be trusted.</summary>
    private readonly Lazy<Storage.DigestCache?> _cache;
    private readonly List<Spdx.BundledFramework> _frameworks = new();

    /// <summary>The real rootfs paths of the programs OciBundleArg names: executed, so 0755 whatever they are.</summary>
    private readonly HashSet<string> _argPrograms = new(StringComparer.Ordinal);
    private (string Version, IReadOnlyList<string> Paths)? _host;
    private ClosureBuilder _closure = null!;

    public BundlePlanner(BundleRequest request, Action<string> log, IReadOnlyDictionary<string, string>? knownDigests = null, CancellationToken cancel = default)
    {
        _request = request;
        _log = log;
        _knownDigests = knownDigests;
        _cancel = cancel;
        _shadow = MountShadow.Of(request.Isolation);
        _cache = new Lazy<Storage.DigestCache?>(() => Storage.DigestCache.Open(request.Content.CacheDirectory, log));
        // An archive or image is unpacked (or found in the cache) here, before the closure, never on a no-op publish.
        _materialized = Sysroots.SysrootStore.Materialize(request.Content.Sysroot, request.Content.Arch, _inputs, log, cancel);
        _sysroot = new SysrootView(_materialized.Root) { Inputs = _inputs, PublicFilesOnly = _materialized.Form == "folder" };
        ContentSpec content = request.Content;
        _paths = new PortablePaths(content.ProjectDirectory, new[]
        {
            ("$(NuGetPackageRoot)", content.NuGetPackageRoot),
            ("$(OciBundleSysrootCache)", content.Sysroot.CacheDirectory),
            ("$(NetCoreRoot)", content.DotnetRoot),
        });
    }

    /// <summary>Plans the bundle.</summary>
    /// <param name="request">What to build.</param>
    /// <param name="log">Detail messages.</param>
    /// <param name="knownDigests">The SBOM's file digests of the last publish, by source ("identity\tdigest"): an unchanged source is not hashed again.</param>
    /// <param name="cancel">Ctrl+C.</param>
    public static BundleLayout Plan(BundleRequest request, Action<string> log, IReadOnlyDictionary<string, string>? knownDigests = null, CancellationToken cancel = default) =>
        new BundlePlanner(request, log, knownDigests, cancel).Plan();

    private BundleLayout Plan()
    {
        ContentSpec content = _request.Content;
        OutputSpec output = _request.Output;
        long created = output.Commit is { } commit ? CommitTime.Read(content.ProjectDirectory ?? content.PublishDirectory, commit, _log) ?? output.Epoch : output.Epoch;
        ProcessSpec process = _request.Process;
        var resolver = LibraryResolver.ForSysroot(_sysroot, content.Arch, _plan);
        _closure = new ClosureBuilder(_sysroot, content.Arch, _plan, resolver, _log);

        string appDir = process.WorkingDirectory;
        resolver.Claim(appDir);
        HostTree.Add(_plan, content.PublishDirectory, appDir, "publish output", _inputs);

        RuntimeConfig? runtimeConfig = ReadRuntimeConfig();
        bool frameworkDependent = runtimeConfig is { IsSelfContained: false, Frameworks.Count: > 0 };
        if (frameworkDependent)
        {
            resolver.Claim(ContainerDotnetRoot);
            AddSharedFrameworks(runtimeConfig!);
        }

        foreach (FileSpec file in content.Files)
        {
            resolver.Claim(file.TargetPath);
            HostTree.Add(_plan, file.Source, file.TargetPath, $"OciBundleFile {_paths.Of(file.Source)}", _inputs, file.Mode);
        }

        foreach (RootfsEntry entry in _plan.Entries.Where(e => e.Kind == RootfsEntryKind.File && e.SourcePath is not null).ToList())
        {
            _closure.AddPlannedFile(entry.Path, entry.SourcePath!);
        }

        IReadOnlyList<string> args = ComputeArgs(frameworkDependent);
        _closure.Complete();

        string entryExecutable = ContainerPath.Join(appDir, content.AppHost ?? content.AppName);
        var packages = new Lazy<PackageDatabase?>(() => PackageDatabase.Read(_sysroot, _cache.Value));
        DotnetRuntimeRules.Apply(_closure, new DotnetRuleOptions(process.InvariantGlobalization, content.IncludeGssapi, content.IncludeTimeZoneData, entryExecutable), runtimeConfig, packages, _log);
        _closure.Complete();

        if (content.Sbom)
        {
            PackageMetadata.Add(_closure, _plan, packages.Value, e => OriginOf(e) == FileOrigin.Sysroot, _log);
            _closure.Complete();
        }

        AddSystemFiles();
        PlanModes(content.AppHost is null ? null : ContainerPath.Join(appDir, content.AppHost));

        var env = new List<KeyValuePair<string, string>>
        {
            new("PATH", RuntimeSpecBuilder.DefaultPath),
            new("DOTNET_RUNNING_IN_CONTAINER", "true"),
        };
        if (frameworkDependent)
        {
            env.Add(new("DOTNET_ROOT", ContainerDotnetRoot));
        }

        if (process.DefaultHttpPorts is { } ports)
        {
            // As Microsoft's ASP.NET Core images: the app listens on all addresses of its network on these ports, not on localhost:5000.
            env.Add(new("ASPNETCORE_HTTP_PORTS", ports));
        }

        foreach (KeyValuePair<string, string> pair in process.Environment)
        {
            int at = env.FindIndex(e => e.Key == pair.Key);
            if (at >= 0)
            {
                env[at] = pair;
            }
            else
            {
                env.Add(pair);
            }
        }

        // execve's limit on all strings together (ARG_MAX: a quarter of the default 8 MiB stack), pointers included.
        long total = args.Concat(env.Select(e => $"{e.Key}={e.Value}")).Sum(a => (long)Encoding.UTF8.GetByteCount(a) + 1 + IntPtr.Size) + 2 * IntPtr.Size;
        if (total > MaxArgAndEnvironmentBytes)
        {
            throw new OciBundleException(Strings.ArgsAndEnvironmentTooLong, total, MaxArgAndEnvironmentBytes);
        }

        IsolationSpec isolation = _request.Isolation;
        EntryPointCheck.Check(_plan, args, env, process, _shadow);
        if (process.Capabilities.Violation() is { } violation)
        {
            throw new OciBundleException(Strings.ContradictoryCapabilities, violation);
        }

        byte[] config = RuntimeSpecBuilder.Write(new RuntimeSpecBuilder.Input
        {
            SpecVersion = isolation.SpecVersion,
            Args = args,
            Environment = env,
            Cwd = appDir,
            Uid = process.User.Uid,
            Gid = process.User.Gid,
            Hostname = isolation.Hostname,
            ReadOnly = isolation.ReadOnly,
            Rootless = isolation.Rootless,
            HostNetwork = isolation.HostNetwork,
            Mounts = isolation.Mounts,
            Capabilities = process.Capabilities,
            NoNewPrivileges = process.NoNewPrivileges,
            Rlimits = process.Rlimits,
            Seccomp = isolation.Seccomp.Resolve(_request.Content.Arch.GoArch, process.Capabilities.Bounding),
            MaskedPaths = isolation.MaskedPaths,
            ReadonlyPaths = isolation.ReadonlyPaths,
        });

        foreach (RootfsEntry file in _plan.Entries.Where(e => e.SourcePath is not null))
        {
            _inputs.Path(file.SourcePath!);
        }

        byte[]? sbom = null;
        IReadOnlyDictionary<string, string> digests = new Dictionary<string, string>();
        if (content.Sbom)
        {
            (sbom, digests) = PlanSbom(packages.Value, created);
        }

        if (packages.IsValueCreated)
        {
            packages.Value?.Save(); // the owners asked about, for the next plan on this machine
        }

        ReplaceableFolders.Check(_plan);
        return new BundleLayout(_plan.Seal(), config, args, env, _closure.Omitted, _inputs) { Sbom = sbom, SourceDigests = digests, Sysroot = _materialized, Warnings = _closure.Warnings, Paths = _paths, Created = created };
    }

    /// <summary>
    /// The SBOM of everything planned so far (so it is the last file planned, and lists every other file), added to
    /// rootfs at <see cref="WellKnownPaths.SbomInContainer"/>; and the digests computed, for the next publish.
    /// </summary>
    private (byte[] Sbom, IReadOnlyDictionary<string, string> Digests) PlanSbom(PackageDatabase? packages, long created)
    {
        ContentSpec content = _request.Content;
        List<RootfsEntry> entries = _plan.Entries.ToList();
        (IReadOnlyDictionary<string, Storage.FileDigest> byPath, IReadOnlyDictionary<string, string> bySource) =
            Spdx.FileDigests.Compute(entries, _inputs.Entries, _knownDigests, _cache.Value, _cancel);

        string depsPath = content.DepsFile;
        _inputs.Path(depsPath);
        IReadOnlyList<DepsLibrary> libraries = Array.Empty<DepsLibrary>();
        if (File.Exists(depsPath))
        {
            try
            {
                libraries = DepsJson.Read(depsPath);
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                throw new OciBundleException(Strings.RuntimeConfigUnreadable, depsPath, e.Message);
            }
        }

        Spdx.NuGetPackageFiles? packageFiles = content.NuGetPackageRoot is { } root ? new Spdx.NuGetPackageFiles(root, _cache.Value, _inputs, _log) : null;
        byte[] document = Spdx.SpdxSbom.Write(new Spdx.SbomSources
        {
            Files = entries,
            Digests = byPath,
            AppName = content.AppName,
            AppDirectory = _request.Process.WorkingDirectory,
            AppLibraries = libraries,
            Frameworks = _frameworks,
            Host = _host,
            Origin = OriginOf,
            CompiledRuntimePacks = content.RuntimePacks,
            Packages = packages,
            Os = ReadOsRelease(),
            RidArch = content.Arch.RidArch,
            Sysroot = _sysroot,
            NuGetPackageRoot = content.NuGetPackageRoot,
            PackageFiles = packageFiles,
            Inputs = _inputs,
            Epoch = created,
            SysrootDigest = _materialized.Digest,
        });
        packageFiles?.Save(); // the .nupkg digests, for the next plan on this machine
        _plan.AddContent(WellKnownPaths.SbomInContainer, document, FileMode644, "the SBOM of this root file system (SPDX 2.3, OciBundleSbom; it lists every other file)");
        return (document, bySource);
    }

    /// <summary>
    /// Where a planned file came from: the one answer the dpkg metadata and the SBOM both use. An OciBundleFile item
    /// wins over the folder it lands in; the app is its working directory; a framework-dependent app's .NET
    /// installation is the container's dotnet root; the rest was taken from the sysroot.
    /// </summary>
    private FileOrigin OriginOf(RootfsEntry entry)
    {
        string app = _request.Process.WorkingDirectory.TrimEnd('/') + "/";
        return entry.Content is not null ? FileOrigin.Generated
            : _request.Content.Files.Any(f => ContainerPath.IsSameOrInside(entry.Path, f.TargetPath)) ? FileOrigin.UserFile
            : entry.Path.StartsWith(app, StringComparison.Ordinal) ? FileOrigin.App
            : _frameworks.Count > 0 && entry.Path.StartsWith(ContainerDotnetRoot + "/", StringComparison.Ordinal) ? FileOrigin.DotnetInstallation
            : FileOrigin.Sysroot;
    }

    /// <summary>The sysroot's os-release (<c>/etc/os-release</c>, else <c>/usr/lib/os-release</c>), links followed inside the sysroot.</summary>
    private Spdx.OsRelease? ReadOsRelease()
    {
        foreach (string path in new[] { "/etc/os-release", "/usr/lib/os-release" })
        {
            // Only as the plan took it from the sysroot: one left out by the host-file rule is not read either.
            if (_sysroot.Resolve(path) is { IsDirectory: false } found && _plan.TryGet(found.RealPath, out RootfsEntry planned)
                && planned.SourcePath == _sysroot.HostPath(found.RealPath))
            {
                string host = _sysroot.HostPath(found.RealPath);
                var info = new FileInfo(host);
                if (info.Exists && info.Length < 64 * 1024)
                {
                    return Spdx.OsRelease.Parse(File.ReadAllText(host));
                }
            }
        }

        return null;
    }

    private RuntimeConfig? ReadRuntimeConfig()
    {
        string path = Path.Combine(_request.Content.PublishDirectory, _request.Content.AppName + ".runtimeconfig.json");
        _inputs.Path(path);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return RuntimeConfig.Read(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new OciBundleException(Strings.RuntimeConfigUnreadable, path, e.Message);
        }
    }

    /// <summary>Copies the frameworks the host would pick, each with the frameworks it builds on, plus hostfxr and the muxer.</summary>
    private void AddSharedFrameworks(RuntimeConfig config)
    {
        string dotnetRoot = _request.Content.DotnetRoot is { } configured
            ? configured
            : Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(typeof(object).Assembly.Location)))!; // shared/Microsoft.NETCore.App/<v>/ -> root
        dotnetRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dotnetRoot));

        var pending = new Queue<(FrameworkReference Framework, string RollForward, string NeededBy)>(
            config.Frameworks.Select(f => (f, f.RollForward ?? config.RollForward, _request.Content.AppName + ".runtimeconfig.json")));
        var done = new HashSet<string>(StringComparer.Ordinal);
        while (pending.Count > 0)
        {
            (FrameworkReference fw, string rollForward, string neededBy) = pending.Dequeue();
            if (!done.Add(fw.Name))
            {
                continue;
            }

            string frameworkDir = Path.Combine(dotnetRoot, "shared", fw.Name);
            _inputs.Listing(frameworkDir);
            string[] installed = Directory.Exists(frameworkDir)
                ? Directory.GetDirectories(frameworkDir).Select(Path.GetFileName).OfType<string>().ToArray()
                : Array.Empty<string>();
            string? version = SharedFrameworkResolver.Pick(installed, fw.Version, rollForward);
            if (version is null)
            {
                throw new OciBundleException(Strings.FrameworkNotFound, fw.Name, fw.Version, dotnetRoot, installed.Length == 0 ? "none" : string.Join(", ", installed));
            }

            string source = Path.Combine(frameworkDir, version);
            HostTree.Add(_plan, source, $"{ContainerDotnetRoot}/shared/{fw.Name}/{version}", $"shared framework {fw.Name} {version} (named by {neededBy})", _inputs);
            _frameworks.Add(new Spdx.BundledFramework(fw.Name, version, $"{ContainerDotnetRoot}/shared/{fw.Name}/{version}"));

            string nested = Path.Combine(source, fw.Name + ".runtimeconfig.json");
            if (File.Exists(nested))
            {
                RuntimeConfig framework;
                try
                {
                    framework = RuntimeConfig.Read(nested);
                }
                catch (Exception e) when (e is IOException or InvalidDataException)
                {
                    throw new OciBundleException(Strings.RuntimeConfigUnreadable, nested, e.Message);
                }

                foreach (FrameworkReference inner in framework.Frameworks)
                {
                    pending.Enqueue((inner, rollForward, fw.Name));
                }
            }
        }

        string fxrRoot = Path.Combine(dotnetRoot, "host", "fxr");
        _inputs.Listing(fxrRoot);
        string? fxr = Directory.Exists(fxrRoot)
            ? SharedFrameworkResolver.Pick(Directory.GetDirectories(fxrRoot).Select(Path.GetFileName).OfType<string>(), "0.0.0", "LatestMajor")
            : null;
        if (fxr is null)
        {
            throw new OciBundleException(Strings.FrameworkNotFound, "hostfxr", "any", dotnetRoot, "none");
        }

        HostTree.Add(_plan, Path.Combine(fxrRoot, fxr), $"{ContainerDotnetRoot}/host/fxr/{fxr}", "the .NET host resolver (hostfxr) for a framework-dependent app", _inputs);
        _host = (fxr, new[] { $"{ContainerDotnetRoot}/host/fxr/{fxr}", $"{ContainerDotnetRoot}/dotnet" });
        string muxer = Path.Combine(dotnetRoot, "dotnet");
        _inputs.Path(muxer);
        if (File.Exists(muxer))
        {
            HostTree.Add(_plan, muxer, $"{ContainerDotnetRoot}/dotnet", "the dotnet host for a framework-dependent app", _inputs);
        }
    }

    /// <summary>process.args: the user's OciBundleArg, or the app's entry point plus OciBundleAppArg. Absolute host paths are brought in.</summary>
    private IReadOnlyList<string> ComputeArgs(bool frameworkDependent)
    {
        ContentSpec content = _request.Content;
        ProcessSpec process = _request.Process;
        string appDir = process.WorkingDirectory;
        List<string> args;
        if (process.Args.Count > 0)
        {
            args = process.Args.ToList();
        }
        else
        {
            string? appHost = content.AppHost is null ? null : ContainerPath.Join(appDir, content.AppHost);
            if (appHost is not null && _plan.TryGet(appHost, out _))
            {
                args = new List<string> { appHost };
            }
            else if (_plan.TryGet(ContainerPath.Join(appDir, content.AppName + ".dll"), out _) && frameworkDependent)
            {
                args = new List<string> { $"{ContainerDotnetRoot}/dotnet", ContainerPath.Join(appDir, content.AppName + ".dll") };
            }
            else if (_plan.TryGet(ContainerPath.Join(appDir, content.AppName), out _))
            {
                args = new List<string> { ContainerPath.Join(appDir, content.AppName) };
            }
            else
            {
                throw new OciBundleException(Strings.EntryPointNotFound, content.AppName, content.PublishDirectory);
            }

            args.AddRange(process.AppArgs);
        }

        // Only OciBundleArg brings host files in (the program, as Nix does with store paths); OciBundleAppArg values
        // are strings for the app, whatever they look like.
        foreach (string arg in process.Args.Where(a => a.StartsWith('/')).Distinct(StringComparer.Ordinal))
        {
            string path = ContainerPath.Normalize(arg);
            bool planned = _plan.TryGet(path, out RootfsEntry entry);
            if (planned && entry.Kind == RootfsEntryKind.File)
            {
                _argPrograms.Add(path);
                continue;
            }

            if (_closure.Resolver.Probe(path) is { InPlan: true } inPlan)
            {
                _argPrograms.Add(inPlan.RealPath);
                continue;
            }

            if (planned)
            {
                continue;
            }

            if (_request.Isolation.Mounts.Any(m => ContainerPath.IsSameOrInside(path, m.Destination)))
            {
                continue; // provided by a mount when the container runs
            }

            ResolvedPath? resolved = _sysroot.Resolve(path);
            if (resolved is null)
            {
                throw new OciBundleException(Strings.ArgPathNotFound, arg, _sysroot.Root);
            }

            // A program, not a folder or a secret: those enter only through OciBundleFile, named for it.
            string host = _sysroot.HostPath(resolved.RealPath);
            if (resolved.IsDirectory)
            {
                throw new OciBundleException(Strings.ArgIsFolder, arg, host);
            }

            NativeMethods.Statx file = NativeMethods.LStat(host) ?? throw new OciBundleException(Strings.ArgPathNotFound, arg, _sysroot.Root);

            // Readable by everyone only if everyone can also reach it: a 0644 file in a 0700 folder is a secret too.
            if (HostFileAccess.Problem(host, _sysroot.Root, file) is { } problem)
            {
                throw new OciBundleException(Strings.ArgNotWorldReadable, arg, host, problem);
            }

            // A program: executable, or at least ELF or a script. A world-readable data file (a token in a 0644
            // ~/.pypirc) is still not a program, and enters only through OciBundleFile.
            if ((file.Mode & 0b001_001_001) == 0 && ElfFile.TryReadIdentity(host) is null && !StartsWithShebang(host))
            {
                throw new OciBundleException(Strings.ArgNotProgram, arg, host);
            }

            if (_closure.AddSysrootPath(path, $"named by OciBundleArg {arg}") is { } real)
            {
                _argPrograms.Add(real);
            }
        }

        AddInterpreter(args[0]);
        return args;
    }

    /// <summary>
    /// The interpreter a <c>#!</c> program OciBundleArg names runs with (<c>/bin/sh</c> of a script), brought in from the
    /// sysroot with its closure as the program was: the kernel executes it in its place.
    /// </summary>
    private void AddInterpreter(string program)
    {
        if (_request.Process.Args.Count == 0 || !program.StartsWith('/') || !_plan.TryGet(ContainerPath.Normalize(program), out RootfsEntry entry)
            || entry.Kind != RootfsEntryKind.File || EntryPointCheck.Interpreter(entry) is not { } interpreter || !interpreter.StartsWith('/'))
        {
            return;
        }

        string path = ContainerPath.Normalize(interpreter);
        if (!_plan.TryGet(path, out _) && _closure.Resolver.Probe(path) is not { InPlan: true } && _shadow.Hider(path) is null
            && _sysroot.Resolve(path) is { IsDirectory: false })
        {
            _closure.AddSysrootPath(path, $"interpreter (#!) of OciBundleArg {program}");
        }
    }

    /// <summary>
    /// Every file's mode by what it is (<see cref="FileModes"/>), now that the closure has read every ELF file: the
    /// programs among them, their interpreters, the app host (<paramref name="appHost"/>) and what OciBundleArg
    /// names are 0755, the rest 0644, whatever the build machine's umask and caches made of them.
    /// </summary>
    private void PlanModes(string? appHost)
    {
        var programs = new HashSet<string>(_closure.Nodes.Values.Where(n => n.File.IsProgram).Select(n => n.RootfsPath), StringComparer.Ordinal);
        programs.UnionWith(_closure.Interpreters);
        programs.UnionWith(_argPrograms);
        if (appHost is not null)
        {
            programs.Add(appHost);
        }

        int count = ProgramModes.Apply(_plan, programs);
        _log($"Modes: {count} programs 0755, every other file 0644, folders 0755 (the build machine's modes and umask do not count).");
    }

    private static bool StartsWithShebang(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return stream.ReadByte() == '#' && stream.ReadByte() == '!';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The files every bundle has: accounts, a writable /tmp and home, and the kernel's mount points.</summary>
    private void AddSystemFiles()
    {
        var passwd = new StringBuilder();
        var group = new StringBuilder();
        foreach ((string name, uint id, string home) in Accounts.All)
        {
            passwd.Append(name).Append(":x:").Append(id).Append(':').Append(id).Append(':').Append(name).Append(':').Append(home).Append(":/sbin/nologin\n");
            group.Append(name).Append(":x:").Append(id).Append(":\n");
        }

        _plan.AddContent("/etc/passwd", Encoding.ASCII.GetBytes(passwd.ToString()), FileMode644, "accounts: root and the app user (generated)");
        _plan.AddContent("/etc/group", Encoding.ASCII.GetBytes(group.ToString()), FileMode644, "groups: root and the app user (generated)");

        // Without these, glibc asks DNS first and "localhost" does not resolve: an app calling itself, or Kestrel
        // binding to localhost, fails with EAI_AGAIN. The container's own, not the host's.
        string hosts = $"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{_request.Isolation.Hostname}\n";
        _plan.AddContent("/etc/hosts", Encoding.ASCII.GetBytes(hosts), FileMode644, "name resolution: localhost and the container's hostname (generated)");
        _plan.AddContent("/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"u8.ToArray(), FileMode644, "name service order: files before DNS (generated)");
        _plan.AddDirectory("/root", "home of root", Mode700);
        _plan.AddDirectory(Accounts.App.Home, "home of the app user, writable by it", RootfsPlan.DirectoryMode, owner: (int)Accounts.App.Id);
        _plan.AddDirectory("/tmp", "temporary files, writable by every user (1777)", Mode1777);
        foreach (string mountPoint in new[] { "/dev", "/proc", "/sys" })
        {
            _plan.AddDirectory(mountPoint, "mount point of the runtime's system mounts");
        }

        // The user's mount points too, so the runtime never has to create them inside rootfs (a run would change
        // the bundle, and the next publish would have to repair it): a folder, or an empty file for a file bind.
        // Not those inside an earlier mount: runc makes them in that mount, and rootfs's would be hidden under it.
        foreach (MountSpec mount in _request.Isolation.Mounts.Where(m => !_plan.TryGet(m.Destination, out _)
            && _shadow.Hider(m.Destination, strict: true, count: _shadow.IndexOfUserMount(m.Destination)) is null))
        {
            bool underLink = false;
            for (string parent = RootfsPlan.Parent(mount.Destination); !underLink; parent = RootfsPlan.Parent(parent))
            {
                underLink = _plan.TryGet(parent, out RootfsEntry p) && p.Kind != RootfsEntryKind.Directory;
                if (parent == "/")
                {
                    break;
                }
            }

            if (underLink)
            {
                continue; // under a symlink or file of the closure: left to the runtime, as before
            }

            if (mount.IsFileBind)
            {
                _plan.AddContent(mount.Destination, Array.Empty<byte>(), FileMode644, $"mount point of OciBundleMount {mount.Destination}");
            }
            else if (!mount.IsBind && TmpfsRoot(mount) is { } root)
            {
                // runc gives a tmpfs the mode and owner of its mount point: a tmpfs mounted 'mode=1777' over a 755
                // folder is 755 and root's, and the app user cannot write to it. So the mount point is made as asked.
                _plan.AddDirectory(mount.Destination, $"mount point of OciBundleMount {mount.Destination} (the tmpfs's mode and owner)", root.Mode, root.Owner);
            }
            else
            {
                _plan.AddDirectory(mount.Destination, $"mount point of OciBundleMount {mount.Destination}");
            }
        }
    }

    /// <summary>
    /// The mode and owner a tmpfs mount's options give its root (<c>mode=1777</c>, <c>uid=1654</c>); null when they
    /// give neither. A mode that lets group or others write is kept only with the sticky bit, as for /tmp.
    /// </summary>
    private static (UnixFileMode Mode, int? Owner)? TmpfsRoot(MountSpec mount)
    {
        string? modeText = mount.Options.LastOrDefault(o => o.StartsWith("mode=", StringComparison.Ordinal))?[5..];
        string? uidText = mount.Options.LastOrDefault(o => o.StartsWith("uid=", StringComparison.Ordinal))?[4..];
        UnixFileMode? mode = null;
        if (modeText is not null && modeText.Length is > 0 and <= 4 && modeText.All(c => c is >= '0' and <= '7'))
        {
            int bits = Convert.ToInt32(modeText, 8);
            bool othersWrite = (bits & 0b000_010_010) != 0;
            mode = !othersWrite || (bits & 0b1_000_000_000) != 0 ? (UnixFileMode)bits : null;
        }

        int? owner = uint.TryParse(uidText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint uid) && uid < int.MaxValue ? (int)uid : null;
        return mode is null && owner is null ? null : (mode ?? RootfsPlan.DirectoryMode, owner);
    }
}

/// <summary>The planned bundle: rootfs entries, the bytes of config.json, what was left out, and every host input it was made from.</summary>
internal sealed record BundleLayout(RootfsPlan Plan, byte[] Config, IReadOnlyList<string> Args, IReadOnlyList<KeyValuePair<string, string>> Environment, IReadOnlyList<string> Omitted, InputLedger Inputs)
{
    /// <summary>Where the native files came from: the sysroot folder used and, for an archive or image, its digest.</summary>
    public Sysroots.MaterializedSysroot? Sysroot { get; init; }

    /// <summary>The SBOM (<c>sbom.spdx.json</c>), also planned into rootfs; null with <c>OciBundleSbom=false</c>.</summary>
    public byte[]? Sbom { get; init; }

    /// <summary>Coded warnings of the plan (optional data files left out of a sysroot folder: OCIB1319).</summary>
    public IReadOnlyList<OciBundleException> Warnings { get; init; } = Array.Empty<OciBundleException>();

    /// <summary>The SBOM's file digests by source ("identity\tdigest"), for the next publish to reuse.</summary>
    public IReadOnlyDictionary<string, string> SourceDigests { get; init; } = new Dictionary<string, string>();

    /// <summary>How provenance.json names host paths (relative to the project, <c>$(NuGetPackageRoot)/...</c>).</summary>
    public PortablePaths? Paths { get; init; }

    /// <summary>The image's and the SBOM's <c>created</c>: the commit's time, or <c>SOURCE_DATE_EPOCH</c> (1980-01-01 by default).</summary>
    public long Created { get; init; }
}
