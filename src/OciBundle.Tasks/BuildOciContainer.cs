using System.Globalization;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using OciBundle.Diagnostics;
using OciBundle.Images;
using OciBundle.Model;
using OciBundle.Request;

namespace OciBundle.Tasks;

/// <summary>
/// Writes an OCI runtime bundle (config.json + rootfs/) from a publish folder. A thin adapter: it turns the
/// project's properties and items into <see cref="BundleOptions"/>, runs <see cref="BundleBuilder"/>, and turns
/// its results and coded exceptions into log messages. It never lets an exception reach the user.
/// </summary>
public sealed class BuildOciContainer : Microsoft.Build.Utilities.Task, ICancelableTask
{
    private readonly CancellationTokenSource _cancel = new();

    [Required] public string PublishDirectory { get; set; } = "";
    [Required] public string BundleDirectory { get; set; } = "";
    public string? ProjectDirectory { get; set; }

    /// <summary>The project's bin/ and obj/: an output folder may never be or contain them.</summary>
    public string[] ProtectedDirectories { get; set; } = Array.Empty<string>();
    [Required] public string AppName { get; set; } = "";
    public string? AppHost { get; set; }
    public string? RuntimeIdentifier { get; set; }

    /// <summary><c>OciBundleArg</c> items, in order: process.args.</summary>
    public ITaskItem[] Args { get; set; } = Array.Empty<ITaskItem>();

    /// <summary><c>OciBundleAppArg</c> items, in order: appended to the entry point.</summary>
    public ITaskItem[] AppArgs { get; set; } = Array.Empty<ITaskItem>();

    /// <summary><c>OciBundleMount</c> items: Include = destination; Type, Source, Options (';'-separated) metadata.</summary>
    public ITaskItem[] Mounts { get; set; } = Array.Empty<ITaskItem>();

    /// <summary><c>OciBundleVolume</c> items: Include = the folder in the container; Source metadata = a host folder.</summary>
    public ITaskItem[] Volumes { get; set; } = Array.Empty<ITaskItem>();

    /// <summary><c>OciBundleEnvironmentVariable</c> items: Include = name; Value metadata.</summary>
    public ITaskItem[] EnvironmentVariables { get; set; } = Array.Empty<ITaskItem>();

    /// <summary><c>OciBundleFile</c> items: Include = host path; TargetPath and Mode metadata.</summary>
    public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    public bool ReadOnly { get; set; }
    public string? OS { get; set; }
    public string? Arch { get; set; }
    public string? WorkingDirectory { get; set; }
    public string? User { get; set; }
    public string? Hostname { get; set; }
    public bool Rootless { get; set; }
    public string? HostUid { get; set; }
    public string? HostGid { get; set; }
    public string? SpecVersion { get; set; }
    public string? Network { get; set; }
    public string? Sysroot { get; set; }
    public string? SysrootDigest { get; set; }
    public string? SysrootCache { get; set; }
    public string? ImageBase { get; set; }

    /// <summary><c>OciImageInsecureRegistries</c>: ';'- or ','-separated host[:port], for a sysroot pulled from a registry.</summary>
    public string? InsecureRegistries { get; set; }
    public bool IncludeTimeZoneData { get; set; }
    public bool IncludeGssapi { get; set; }
    public string? DotnetRoot { get; set; }

    /// <summary><c>SOURCE_DATE_EPOCH</c>: seconds since 1970 for every timestamp (the targets give 1980-01-01 when it is unset).</summary>
    public string? SourceDateEpoch { get; set; }

    /// <summary>The git commit of the project (SourceRoot's RevisionId), when SOURCE_DATE_EPOCH is unset: its time is the image's created.</summary>
    public string? SourceCommit { get; set; }

    /// <summary>
    /// Where the engine remembers what the last publish was made from and wrote (in obj/): a publish with nothing
    /// changed writes nothing, and an app change re-copies only the app.
    /// </summary>
    public string? StateFile { get; set; }

    /// <summary><c>OciBundleCapabilities</c>: <c>default</c>, <c>none</c>, or ';'-separated capability names.</summary>
    public string? Capabilities { get; set; }

    /// <summary><c>OciBundleRootCapabilities</c>: ';'-separated names, what <c>default</c> gives root.</summary>
    public string? RootCapabilities { get; set; }

    /// <summary><c>OciBundleNoNewPrivileges</c>.</summary>
    public bool NoNewPrivileges { get; set; }

    /// <summary><c>OciBundleSbom</c>.</summary>
    public bool Sbom { get; set; }

    /// <summary><c>$(NuGetPackageRoot)</c>: where the SBOM finds the app's packages' declared licenses.</summary>
    public string? NuGetPackageRoot { get; set; }

    /// <summary>Runtime packs compiled into the app (Native AOT's), with <c>NuGetPackageVersion</c> metadata, for the SBOM.</summary>
    public ITaskItem[] RuntimePacks { get; set; } = Array.Empty<ITaskItem>();

    /// <summary><c>OciBundleCacheDir</c>.</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>The app's deps.json when it is not in the publish output (single-file).</summary>
    public string? DepsFile { get; set; }

    /// <summary><c>OciBundleHttpPorts</c> when the app uses ASP.NET Core (the targets leave it empty otherwise).</summary>
    public string? HttpPorts { get; set; }

    /// <summary><c>OciBundleSeccomp</c>: <c>default</c>, <c>unconfined</c>, or a profile file (absolute).</summary>
    public string? Seccomp { get; set; }

    /// <summary><c>OciBundleMaskedPaths</c>: the ';'-separated defaults, or <c>none</c>.</summary>
    public string? MaskedPaths { get; set; }

    /// <summary><c>OciBundleMaskedPath</c> items, added to <see cref="MaskedPaths"/>.</summary>
    public ITaskItem[] MaskedPathItems { get; set; } = Array.Empty<ITaskItem>();

    /// <summary><c>OciBundleReadonlyPaths</c>: the ';'-separated defaults, or <c>none</c>.</summary>
    public string? ReadonlyPaths { get; set; }

    /// <summary><c>OciBundleReadonlyPath</c> items, added to <see cref="ReadonlyPaths"/>.</summary>
    public ITaskItem[] ReadonlyPathItems { get; set; } = Array.Empty<ITaskItem>();

    /// <summary><c>OciBundleRlimit</c> items: the limit's name, <c>Soft</c> and <c>Hard</c> metadata.</summary>
    public ITaskItem[] Rlimits { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>Write the runtime bundle (<c>PublishOciBundle</c>).</summary>
    public bool WriteBundle { get; set; }

    /// <summary><c>OciImageDir</c> when <c>PublishOciImage</c> is true: also write an OCI image layout there.</summary>
    public string? ImageDirectory { get; set; }

    public string? ImageTag { get; set; }
    public string? ImageArchive { get; set; }

    /// <summary><c>OciImageLayerCompression</c>: <c>gzip</c> or <c>zstd</c>.</summary>
    public string? ImageLayerCompression { get; set; }

    /// <summary><c>OciImageLayering</c>: <c>ByChangeRate</c> or <c>SingleAppLayer</c>.</summary>
    public string? ImageLayering { get; set; }

    /// <summary>The runtime pack's files (<c>@(RuntimePackAsset)</c>, metadata <c>DestinationSubPath</c>): the image's runtime layer.</summary>
    public ITaskItem[] RuntimeFiles { get; set; } = Array.Empty<ITaskItem>();

    /// <summary><c>OciImageLabel</c> items: Include = key; Value metadata.</summary>
    public ITaskItem[] ImageLabels { get; set; } = Array.Empty<ITaskItem>();

    /// <summary><c>OciImagePort</c> items: 8080, 8080/tcp, 53/udp.</summary>
    public ITaskItem[] ImagePorts { get; set; } = Array.Empty<ITaskItem>();

    /// <summary><c>OciImageRegistry</c>, for the image's full name (<c>io.containerd.image.name</c>); empty: <c>localhost</c>.</summary>
    public string? ImageRegistry { get; set; }

    /// <summary><c>OciImageRepository</c>.</summary>
    public string? ImageRepository { get; set; }

    /// <summary><c>OciImageTags</c> (';'- or ','-separated), checked here when OciImageRegistry is set: the push that uses them comes after the write.</summary>
    public string? ImageTags { get; set; }

    /// <summary><c>OciImageDefaultArgs</c> items, in order: the image's <c>Cmd</c> (<c>Value</c> metadata verbatim, as for args).</summary>
    public ITaskItem[] ImageDefaultArgs { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>How many files the bundle holds.</summary>
    [Output] public int FileCount { get; set; }

    /// <summary>The command that runs the bundle.</summary>
    [Output] public string? RunCommand { get; set; }

    /// <summary>Ctrl+C: the write stops before the swap, so the previous bundle stays whole and no staging folder is left.</summary>
    public void Cancel() => _cancel.Cancel();

    public override bool Execute()
    {
        if (!OperatingSystem.IsLinux())
        {
            LogError(new OciBundleException(Strings.UnsupportedOS, Environment.OSVersion.Platform + " (the build machine)"));
            return false;
        }

        try
        {
            BundleOptions options = ToOptions();
            BundleResult result;
            using (var progress = new StepProgress(Log, $"{AppName}: OCI bundle step"))
            {
                result = BundleBuilder.Build(
                    options,
                    progress.Detail,
                    warning => Log.LogWarning(null, warning.Code, null, null, 0, 0, 0, 0, warning.Message),
                    StateFile,
                    _cancel.Token,
                    warningsFailed: () => Log.HasLoggedErrors);
            }

            FileCount = result.FileCount;
            string sudo = options.Rootless ? "" : "sudo ";
            Log.LogMessage(MessageImportance.Low, $"process.args: {string.Join(" ", result.Args.Select(ShellWords.Quote))}");
            if (!result.UpToDate)
            {
                Log.LogMessage(MessageImportance.Low, $"Planned in {result.PlanTime.TotalMilliseconds:F0} ms, written in {result.WriteTime.TotalMilliseconds:F0} ms: {result.Statistics.FilesWritten} files copied ({result.Statistics.BytesWritten} bytes), {result.Statistics.FilesLinked} unchanged files reused ({result.Statistics.BytesLinked} bytes).");
            }

            string state = result.UpToDate ? ", up to date" : "";
            if (options.WriteBundle)
            {
                // Rootless: a state folder of the user's own, as runc's default /run/runc is root's.
                string root = options.Rootless ? "--root \"$XDG_RUNTIME_DIR/runc\" " : "";
                RunCommand = $"{sudo}runc {root}run --bundle {ShellWords.Quote(result.BundleDirectory)} {ShellWords.Quote(result.ContainerId)}";
                string web = result.HttpPorts is not { } ports ? ""
                    : result.HostNetwork ? $"; it serves http://localhost:{ports.Split(';')[0]}/"
                    : $"; it listens on port {ports.Replace(";", ", ", StringComparison.Ordinal)} of its own network namespace, which runc publishes nowhere (OciBundleNetwork=host serves it on the host's; podman run -p {ports.Split(';')[0]}:{ports.Split(';')[0]} publishes the image's)";
                Log.LogMessage(
                    MessageImportance.High,
                    $"{AppName} -> {result.BundleDirectory}{Path.DirectorySeparatorChar} (OCI bundle: {result.FileCount.ToString("N0", CultureInfo.InvariantCulture)} files, {FormatBytes(result.TotalBytes)}{state}); run it with: {RunCommand}{web}");
                string sbom = Path.Combine(result.BundleDirectory, WellKnownPaths.SbomFile);
                if (File.Exists(sbom))
                {
                    Log.LogMessage(MessageImportance.High, $"{AppName} -> {sbom} (SPDX SBOM, {FormatBytes(new FileInfo(sbom).Length)}; also {WellKnownPaths.SbomInContainer} in rootfs{(result.Image is null ? "" : " and the image")})");
                }

                foreach (VolumeBinding binding in result.Volumes)
                {
                    (string volume, string folder) = (binding.Path, binding.HostFolder);
                    Log.LogMessage(MessageImportance.High, $"{AppName} -> {folder}{Path.DirectorySeparatorChar} (OciBundleVolume {volume}: the app's data, kept across runs, publishes and dotnet clean; delete it yourself to remove it)");
                }
            }

            if (result.Image is { } image)
            {
                LogImage(result, image, state);
            }
        }
        catch (BundleValidationException e)
        {
            foreach (OciBundleException error in e.Errors)
            {
                LogError(error);
            }
        }
        catch (OciBundleException e)
        {
            LogError(e);
        }
        catch (StoppedByWarningsException)
        {
            Log.LogMessage(MessageImportance.High, $"{AppName}: a warning above is an error in this build (WarningsAsErrors); the previous output is unchanged.");
            return false;
        }
        catch (OperationCanceledException)
        {
            Log.LogMessage(MessageImportance.High, $"{AppName}: the OCI bundle step was canceled; the previous output is unchanged.");
            return false;
        }
        catch (Exception e)
        {
            // Never a stack trace at the user: the message and a code, the details at low importance for a binlog.
            LogError(new OciBundleException(Strings.UnexpectedError, e, $"{e.GetType().Name}: {e.Message}"));
            Log.LogMessage(MessageImportance.Low, e.ToString());
        }

        return !Log.HasLoggedErrors;
    }

    /// <summary>The image's output lines: the layout (its name and compressed size), and the archive when one was asked for.</summary>
    private void LogImage(BundleResult result, ImageResult image, string state)
    {
        foreach (LayerResult layer in image.Details)
        {
            string how = layer.Reused ? "unchanged since the last publish, reused as it was" : "written";
            Log.LogMessage(MessageImportance.Low, $"layer {layer.Digest} ({FormatBytes(layer.Size)} compressed, {how}): {layer.Name}");
        }

        int reused = image.Details.Count(l => l.Reused);
        string reuse = reused > 0 && !result.UpToDate ? $", {reused} reused" : "";
        string compressed = FormatBytes(image.Layers.Sum(l => l.Size));
        Log.LogMessage(
            MessageImportance.High,
            $"{AppName} -> {result.ImageDirectory}{Path.DirectorySeparatorChar} (OCI image {result.ImageName}, {compressed} compressed: {image.Layers.Count} layers{reuse}, manifest {image.ManifestDigest}{state}); {NextForImage(result)}");
        if (result.ImageArchive is { } archive && File.Exists(archive))
        {
            Log.LogMessage(
                MessageImportance.High,
                $"{AppName} -> {archive} (OCI archive of {result.ImageName}, {FormatBytes(new FileInfo(archive).Length)}{state}); run it with: podman run --rm {ShellWords.Quote("oci-archive:" + archive)}");
        }
    }

    /// <summary>What the image line tells the user to do next: with <c>OciImageRegistry</c> set the push that follows does it; else how to push by hand.</summary>
    private string NextForImage(BundleResult result) =>
        string.IsNullOrWhiteSpace(ImageRegistry)
            ? $"push it with: skopeo copy {ShellWords.Quote($"oci:{result.ImageDirectory}:{ImageTag}")} docker://<registry>/<name>:{ImageTag}"
            : $"pushed next to {ImageRegistry} (OciImageRegistry)";

    /// <summary>An arg item's value: its <c>Value</c> metadata verbatim when it has one (no wildcard or slash rewriting), else the item itself.</summary>
    private static string ArgValue(ITaskItem item) =>
        item.MetadataNames.Cast<string>().Contains("Value", StringComparer.OrdinalIgnoreCase) ? item.GetMetadata("Value") : item.ItemSpec;

    /// <summary>The parameters as plain values, as they are: no defaults here (the targets give them) and no checks (the engine's parsers do).</summary>
    internal BundleOptions ToOptions() => new()
    {
        PublishDirectory = PublishDirectory,
        BundleDirectory = BundleDirectory,
        ProjectDirectory = ProjectDirectory,
        ProtectedDirectories = ProtectedDirectories.Where(d => !string.IsNullOrWhiteSpace(d)).ToList(),
        AppName = AppName,
        AppHost = AppHost,
        RuntimeIdentifier = RuntimeIdentifier,
        Args = Args.Select(ArgValue).ToList(),
        AppArgs = AppArgs.Select(ArgValue).ToList(),
        ReadOnly = ReadOnly,
        OS = OS,
        Arch = Arch,
        Mounts = Mounts.Select(m => new MountOption
        {
            Destination = m.ItemSpec,
            Type = m.GetMetadata("Type"),
            Source = m.GetMetadata("Source"),
            Options = OptionList.Split(m.GetMetadata("Options")),
        }).ToList(),
        Volumes = Volumes.Select(v => new VolumeOption { Path = v.ItemSpec, Source = v.GetMetadata("Source") }).ToList(),
        Environment = EnvironmentVariables.Select(e => new KeyValuePair<string, string>(e.ItemSpec, e.GetMetadata("Value"))).ToList(),
        WorkingDirectory = WorkingDirectory,
        User = User,
        Hostname = Hostname,
        Rootless = Rootless,
        HostUid = HostUid,
        HostGid = HostGid,
        SpecVersion = SpecVersion,
        Network = Network,
        Files = Files.Select(f => new FileOption { Source = f.GetMetadata("FullPath"), TargetPath = f.GetMetadata("TargetPath"), Mode = f.GetMetadata("Mode") }).ToList(),
        Sysroot = Sysroot,
        SysrootDigest = SysrootDigest,
        SysrootCache = SysrootCache,
        ImageBase = ImageBase,
        InsecureRegistries = OptionList.Split(InsecureRegistries),
        IncludeTimeZoneData = IncludeTimeZoneData,
        IncludeGssapi = IncludeGssapi,
        DotnetRoot = DotnetRoot,
        SourceDateEpoch = SourceDateEpoch,
        SourceCommit = SourceCommit,
        WriteBundle = WriteBundle,
        Capabilities = Capabilities is null ? null : OptionList.Split(Capabilities),
        NoNewPrivileges = NoNewPrivileges,
        Sbom = Sbom,
        NuGetPackageRoot = NuGetPackageRoot,
        DepsFile = DepsFile,
        CacheDirectory = CacheDirectory,
        RuntimePacks = RuntimePacks.Select(p => new KeyValuePair<string, string>(p.GetMetadata("NuGetPackageId") is { Length: > 0 } id ? id : p.ItemSpec, p.GetMetadata("NuGetPackageVersion"))).ToList(),
        RootCapabilities = RootCapabilities is null ? null : OptionList.Split(RootCapabilities),
        Seccomp = Seccomp,
        HttpPorts = HttpPorts,
        MaskedPaths = OptionList.Split(MaskedPaths),
        MaskedPathItems = MaskedPathItems.Select(i => i.ItemSpec).ToList(),
        ReadonlyPaths = OptionList.Split(ReadonlyPaths),
        ReadonlyPathItems = ReadonlyPathItems.Select(i => i.ItemSpec).ToList(),
        Rlimits = Rlimits.Select(r => new RlimitOption { Type = r.ItemSpec, Soft = r.GetMetadata("Soft"), Hard = r.GetMetadata("Hard") }).ToList(),
        ImageDirectory = string.IsNullOrWhiteSpace(ImageDirectory) ? null : ImageDirectory,
        ImageTag = ImageTag,
        ImageLayerCompression = ImageLayerCompression,
        ImageLayering = ImageLayering,
        ImageArchive = ImageArchive,
        RuntimeFiles = RuntimeFiles.Select(f => f.GetMetadata("DestinationSubPath") is { Length: > 0 } sub ? sub : Path.GetFileName(f.ItemSpec)).ToList(),
        ImageLabels = ImageLabels.Where(l => l.GetMetadata("Value").Length > 0).GroupBy(l => l.ItemSpec).ToDictionary(g => g.Key, g => g.Last().GetMetadata("Value")),
        ImagePorts = ImagePorts.Select(p => p.ItemSpec).ToList(),
        ImageRegistry = ImageRegistry,
        ImageRepository = ImageRepository,
        ImageTags = OptionList.Split(ImageTags),
        ImageDefaultArgs = ImageDefaultArgs.Select(ArgValue).ToList(),
    };

    private void LogError(OciBundleException e) =>
        Log.LogError(null, e.Code, null, ProjectDirectory is null ? null : BuildEngine?.ProjectFileOfTaskNode, 0, 0, 0, 0, e.Message);

    private static string FormatBytes(long bytes) =>
        bytes >= 1 << 20 ? (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) + " MB" : (bytes / 1024.0).ToString("F1", CultureInfo.InvariantCulture) + " KB";
}
