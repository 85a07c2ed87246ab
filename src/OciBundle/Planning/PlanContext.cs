using OciBundle.Closure;
using OciBundle.Dotnet;
using OciBundle.Model;
using OciBundle.Request;
using OciBundle.Rootfs;
using OciBundle.Spdx;
using OciBundle.State;
using OciBundle.Storage;
using OciBundle.Sysroots;

namespace OciBundle.Planning;

/// <summary>
/// What the steps of <see cref="BundlePlanner"/> share: the request they plan from, the plan they add to, the ledger of
/// what they read, and each step's result for the steps after it. A result is set once, by the one step that makes it,
/// and read only after: a step that reads one before it is made, or a second step that sets it, is a mistake in the
/// step list, and throws.
/// </summary>
internal sealed class PlanContext
{
    private readonly StepResult<MaterializedSysroot> _materialized = new("the materialized sysroot (SysrootStep)");
    private readonly StepResult<SysrootView> _sysroot = new("the sysroot view (SysrootStep)");
    private readonly StepResult<BaseImage?> _base = new("the base image (BaseStep)");
    private readonly StepResult<IReadOnlySet<string>> _fromBase = new("the paths the base image holds (BaseFilesStep)");
    private readonly StepResult<Steps.PendingTime> _created = new("created (CreationTimeStep)");
    private readonly StepResult<ClosureBuilder> _elfClosure = new("the closure builder (LoaderStep)");
    private readonly StepResult<RuntimeConfig?> _appRuntimeConfig = new("the app's runtimeconfig.json (FrameworksStep)");
    private readonly StepResult<IReadOnlyList<BundledFramework>> _frameworks = new("the shared frameworks (FrameworksStep)");
    private readonly StepResult<(string Version, IReadOnlyList<string> Paths)?> _host = new("the .NET host (FrameworksStep)");
    private readonly StepResult<IReadOnlyList<string>> _args = new("process.args (ArgsStep)");
    private readonly StepResult<IReadOnlySet<string>> _argPrograms = new("the programs OciBundleArg names (ArgsStep)");
    private readonly StepResult<IReadOnlyList<KeyValuePair<string, string>>> _environment = new("process.env (EnvironmentStep)");
    private readonly StepResult<byte[]> _config = new("config.json (RuntimeSpecStep)");
    private readonly StepResult<byte[]?> _sbom = new("the SBOM (SbomStep)");
    private readonly StepResult<IReadOnlyDictionary<string, string>> _sourceDigests = new("the SBOM's digests by source (SbomStep)");
    private readonly StepResult<IReadOnlyList<DepsLibrary>> _appLibraries = new("the app's deps.json libraries (SbomStep)");

    public PlanContext(BundleRequest request, Action<string> log, BuildState? previous, CancellationToken cancel)
    {
        Content = request.Content;
        Process = request.Process;
        Isolation = request.Isolation;
        Output = request.Output;
        Volumes = request.Volumes;
        Log = log;
        RememberedCommit = previous?.CommitDate;
        KnownDigests = previous?.Digests;
        Cancel = cancel;
        Shadow = MountShadow.Of(request.Isolation);
        Cache = new Lazy<DigestCache?>(() => DigestCache.Open(Content.CacheDirectory, log));
        Packages = new Lazy<PackageDatabase?>(() => PackageDatabase.Read(Sysroot, Cache.Value));
        Paths = new PortablePaths(Content.ProjectDirectory, new[]
        {
            ("$(NuGetPackageRoot)", Content.NuGetPackageRoot),
            ("$(OciBundleSysrootCache)", Content.Sysroot.CacheDirectory),
            ("$(NetCoreRoot)", Content.DotnetRoot),
        });
    }

    // Given: the request, and what the planner is handed.
    public ContentSpec Content { get; }

    /// <summary>The request's, its user resolved by the base's accounts (<see cref="Steps.BaseStep"/>) when it names one only the base has.</summary>
    public ProcessSpec Process { get; set; }

    public IsolationSpec Isolation { get; }

    public OutputSpec Output { get; }

    /// <summary>The <c>OciBundleVolume</c> folders.</summary>
    public IReadOnlyList<VolumeSpec> Volumes { get; }

    /// <summary>Detail messages.</summary>
    public Action<string> Log { get; }

    /// <summary>The time of the commit the last publish was built from ("id seconds"), taken only for the same commit id; null for none.</summary>
    public string? RememberedCommit { get; }

    /// <summary>The SBOM's file digests of the last publish, by source ("identity\tdigest"): an unchanged source is not hashed again.</summary>
    public IReadOnlyDictionary<string, string>? KnownDigests { get; }

    /// <summary>Ctrl+C.</summary>
    public CancellationToken Cancel { get; }

    // Shared by every step: what rootfs holds so far, and every host input read for it.
    public RootfsPlan Plan { get; } = new();

    public InputLedger Inputs { get; } = new();

    /// <summary>Which mount hides a path of rootfs when the container runs.</summary>
    public MountShadow Shadow { get; }

    /// <summary>How provenance.json names host paths (relative to the project, <c>$(NuGetPackageRoot)/...</c>).</summary>
    public PortablePaths Paths { get; }

    /// <summary>The per-user cache (digests, dpkg owners), opened and judged once per plan; null when there is none or it is not to be trusted.</summary>
    public Lazy<DigestCache?> Cache { get; }

    /// <summary>The sysroot's dpkg database, read at most once per plan, by the first step that asks (null when it has none).</summary>
    public Lazy<PackageDatabase?> Packages { get; }

    // Made by the steps, in the order of BundlePlanner's list.
    public MaterializedSysroot Materialized { get => _materialized.Value; set => _materialized.Value = value; }

    /// <summary>The sysroot folder, read as the root it is, recording what it looks at in <see cref="Inputs"/>.</summary>
    public SysrootView Sysroot { get => _sysroot.Value; set => _sysroot.Value = value; }

    /// <summary>The image's and the SBOM's <c>created</c>.</summary>
    /// <summary><c>OciImageBase</c> opened, or null without one.</summary>
    public BaseImage? Base { get => _base.Value; set => _base.Value = value; }

    /// <summary>The planned paths the base image's tree holds as planned: left out of the image's own layers.</summary>
    public IReadOnlySet<string> FromBase { get => _fromBase.Value; set => _fromBase.Value = value; }

    /// <summary>The image's and the SBOM's <c>created</c>, in seconds since 1970: waits for git when it is still being asked.</summary>
    public long Created => _created.Value.Value;

    /// <summary><see cref="Created"/> as <see cref="Steps.CreationTimeStep"/> set it going.</summary>
    public Steps.PendingTime CreatedPending { get => _created.Value; set => _created.Value = value; }

    /// <summary>Whether <see cref="Steps.CreationTimeStep"/> ran (a plan that failed before it has no git to wait for).</summary>
    public bool HasCreated => _created.IsSet;

    /// <summary>The ELF closure over <see cref="Plan"/>, with the sysroot's loader it resolves libraries by.</summary>
    public ClosureBuilder ElfClosure { get => _elfClosure.Value; set => _elfClosure.Value = value; }

    /// <summary>The app's runtimeconfig.json; null when it has none (a self-contained app without one, Native AOT).</summary>
    public RuntimeConfig? AppRuntimeConfig { get => _appRuntimeConfig.Value; set => _appRuntimeConfig.Value = value; }

    /// <summary>A framework-dependent app: its runtimeconfig.json names frameworks, which the bundle carries under the dotnet root.</summary>
    public bool FrameworkDependent => AppRuntimeConfig is { IsSelfContained: false, Frameworks.Count: > 0 };

    /// <summary>The shared frameworks copied into the bundle; none for a self-contained app.</summary>
    public IReadOnlyList<BundledFramework> Frameworks { get => _frameworks.Value; set => _frameworks.Value = value; }

    /// <summary>The .NET host (muxer and hostfxr) of a framework-dependent bundle: its version and the paths it covers.</summary>
    public (string Version, IReadOnlyList<string> Paths)? Host { get => _host.Value; set => _host.Value = value; }

    public IReadOnlyList<string> Args { get => _args.Value; set => _args.Value = value; }

    /// <summary>The real rootfs paths of the programs OciBundleArg names: executed, so 0755 whatever they are.</summary>
    public IReadOnlySet<string> ArgPrograms { get => _argPrograms.Value; set => _argPrograms.Value = value; }

    public IReadOnlyList<KeyValuePair<string, string>> Environment { get => _environment.Value; set => _environment.Value = value; }

    /// <summary>The bytes of config.json.</summary>
    public byte[] Config { get => _config.Value; set => _config.Value = value; }

    /// <summary>The SBOM's digests being read on other cores since the app's files were planned (<see cref="BundlePlanner"/>); null without an SBOM.</summary>
    public SbomPrefetch? SbomInputs { get; set; }

    /// <summary>The SBOM, also planned into rootfs; null with <c>OciBundleSbom=false</c>.</summary>
    public byte[]? Sbom { get => _sbom.Value; set => _sbom.Value = value; }

    /// <summary>The libraries of the app's deps.json, read when the SBOM or the image's layers need them (none otherwise, or without a deps.json).</summary>
    public IReadOnlyList<DepsLibrary> AppLibraries { get => _appLibraries.Value; set => _appLibraries.Value = value; }

    /// <summary>The SBOM's file digests by source ("identity\tdigest"), for the next publish to reuse.</summary>
    public IReadOnlyDictionary<string, string> SourceDigests { get => _sourceDigests.Value; set => _sourceDigests.Value = value; }

    /// <summary>
    /// Where a planned file came from: the one answer the dpkg metadata and the SBOM both use. An OciBundleFile item
    /// wins over the folder it lands in; the app is its working directory; a framework-dependent app's .NET
    /// installation is the container's dotnet root; the rest was taken from the sysroot.
    /// </summary>
    public FileOrigin OriginOf(RootfsEntry entry)
    {
        string app = Process.WorkingDirectory.TrimEnd('/') + "/";
        return entry.Content is not null ? FileOrigin.Generated
            : Content.Files.Any(f => ContainerPath.IsSameOrInside(entry.Path, f.TargetPath)) ? FileOrigin.UserFile
            : entry.Path.StartsWith(app, StringComparison.Ordinal) ? FileOrigin.App
            : Frameworks.Count > 0 && entry.Path.StartsWith(WellKnownPaths.DotnetRoot + "/", StringComparison.Ordinal) ? FileOrigin.DotnetInstallation
            : FileOrigin.Sysroot;
    }

    /// <summary>A value one step leaves for the steps after it: set once, and read only once set.</summary>
    private sealed class StepResult<T>
    {
        private readonly string _what;
        private T _value = default!;
        private bool _set;

        public StepResult(string what) => _what = what;

        public bool IsSet => _set;

        public T Value
        {
            get => _set ? _value : throw new InvalidOperationException($"The plan read {_what} before the step that makes it ran: BundlePlanner's step list is out of order.");
            set
            {
                if (_set)
                {
                    throw new InvalidOperationException($"The plan set {_what} twice: only one step makes it.");
                }

                _value = value;
                _set = true;
            }
        }
    }
}
