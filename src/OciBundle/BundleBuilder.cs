using OciBundle.Diagnostics;
using OciBundle.Images;
using OciBundle.Request;
using OciBundle.Rootfs;
using OciBundle.State;
using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Outputs;
using OciBundle.Planning;

namespace OciBundle;

/// <summary>The engine's entry point: validate, check whether anything changed, plan, write. Knows nothing of MSBuild.</summary>
internal static class BundleBuilder
{
    /// <summary>Builds the bundle. Every mistake comes out as an <see cref="OciBundleException"/>; the previous bundle is untouched then.</summary>
    /// <param name="options">What to build.</param>
    /// <param name="log">Receives detail messages (low importance).</param>
    /// <param name="warn">Receives warnings (accepted aliases and the like).</param>
    /// <param name="statePath">
    /// Where to remember what this publish was made from and what it wrote (in obj/): the next publish does nothing
    /// when no input and no output changed, and reuses unchanged files when something did. Null: write everything.
    /// </param>
    /// <param name="cancel">Stops the publish before the new output replaces the old (Ctrl+C).</param>
    /// <param name="warningsFailed">
    /// Asked once the request's warnings are logged: true when the build treats one of them as an error
    /// (<c>TreatWarningsAsErrors</c>, <c>WarningsAsErrors</c>), and then nothing is written, as for any error.
    /// </param>
    public static BundleResult Build(BundleOptions options, Action<string> log, Action<OciBundleException> warn, string? statePath = null, CancellationToken cancel = default, Func<bool>? warningsFailed = null)
    {
        // The last publish's state and what changed since, read under the project's lock on another core meanwhile.
        PreviousPublish.Reading reading = PreviousPublish.Begin(statePath, log);
        BundleRequest request;
        try
        {
            request = BundleRequest.Parse(options);
            ReportWarnings(request.Warnings, warn, warningsFailed);
        }
        catch
        {
            reading.Abandon(); // a refused option is said at once, not after another publish's lock
            throw;
        }

        using PreviousPublish? last = reading.Wait();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // The typed request, not the raw options: what the parsers computed from the host (the arch, the hostname,
        // the host ids, whether a bind source is a file) is part of it.
        string key = KeyOf(request);
        BuildState? previous = last?.Saved;
        string? change = previous is null ? null : FirstChange(last!, key, request);
        if (previous is not null && change is null)
        {
            return NothingChanged(request, previous, log, warn, clock.Elapsed + last!.Checked);
        }
        else if (previous is not null)
        {
            log($"Out of date: {change}.");
        }

        BundleLayout layout = BundlePlanner.Plan(request, log, previous, cancel);
        request = request with { Process = layout.Process }; // its user resolved by the base's accounts
        TimeSpan planTime = clock.Elapsed;
        cancel.ThrowIfCancellationRequested();
        ReportWarnings(layout.Warnings, warn, warningsFailed);

        WriteStatistics statistics = new();
        if (request.Output.BundleDirectory is { } bundleDirectory)
        {
            statistics = WriteBundle(request, layout, bundleDirectory, previous, log, warn, cancel);
            VolumeFolders.Prepare(request, log, warn);
        }

        BuildState state = BuildState.Record(key, layout.Plan, layout.Inputs, request.Output.BundleDirectory);
        state.Digests = new Dictionary<string, string>(layout.SourceDigests, StringComparer.Ordinal);
        state.ReadOnlyRoot = request.Output.BundleDirectory is not null && request.Isolation.ReadOnly;
        state.CommitDate = layout.CommitDate;

        ImageResult? image = null;
        if (request.Output.Image is { } spec)
        {
            image = WriteImage(request, layout, spec, previous, state, warn, cancel);
        }

        state.Summary = Summarize(layout, image);
        if (statePath is not null)
        {
            SaveState(state, statePath, warn);
        }

        return Result(request, state.Summary, upToDate: false, planTime, clock.Elapsed - planTime, statistics, image);
    }

    /// <summary>Saves what the outputs were made from; when it cannot be, the outputs stand and the next publish writes all again.</summary>
    private static void SaveState(BuildState state, string statePath, Action<OciBundleException> warn)
    {
        try
        {
            state.Save(statePath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warn(new OciBundleException(Strings.StateNotSaved, statePath, e.Message.TrimEnd('.')));
        }
    }

    /// <summary>Passes the warnings on; stops the publish, before anything is written, when the build treats one as an error.</summary>
    private static void ReportWarnings(IReadOnlyList<OciBundleException> warnings, Action<OciBundleException> warn, Func<bool>? warningsFailed)
    {
        foreach (OciBundleException warning in warnings)
        {
            warn(warning);
        }

        if (warnings.Count > 0 && warningsFailed?.Invoke() == true)
        {
            throw new StoppedByWarningsException();
        }
    }

    /// <summary>The up-to-date publish: removes idle leftovers of an interrupted one, writes nothing, and answers from the previous summary.</summary>
    private static BundleResult NothingChanged(BundleRequest request, BuildState previous, Action<string> log, Action<OciBundleException> warn, TimeSpan checkedIn)
    {
        if (request.Output.BundleDirectory is { } bundle)
        {
            StagedDirectory.RemoveLeftoversIfIdle(bundle, Outputs.OutputKind.Bundle, warn);
            // Owned by the process's user: a name only the base has, by the accounts the bundle was written with.
            ProcessSpec process = request.Process with { User = Planning.Steps.AccountFiles.Resolve(request.Process.User, Path.Combine(bundle, "rootfs")) };
            VolumeFolders.Prepare(request with { Process = process }, log, warn); // made again when someone removed them
        }

        if (request.Output.Image is { } idle)
        {
            StagedDirectory.RemoveLeftoversIfIdle(idle.Directory, Outputs.OutputKind.Image, warn);
        }

        log($"Nothing changed since the last publish (checked {previous.Inputs.Count} inputs and {(previous.Bundle?.Entries.Count ?? 0) + (previous.Image?.Entries.Count ?? 0)} outputs in {(long)checkedIn.TotalMilliseconds} ms): nothing written.");
        return Result(request, previous.Summary, upToDate: true, checkedIn, TimeSpan.Zero, new WriteStatistics());
    }

    /// <summary>Writes the runtime bundle (rootfs/, config.json, the provenance report, the SBOM) and tells what the writing cost.</summary>
    private static WriteStatistics WriteBundle(BundleRequest request, BundleLayout layout, string bundleDirectory, BuildState? previous, Action<string> log, Action<OciBundleException> warn, CancellationToken cancel)
    {
        (uint, uint)? owner = request.Isolation.Rootless is { } rootless ? (rootless.HostUid, rootless.HostGid) : null;
        // Linked only between read-only roots: the previous bundle's (as its state says) and this one's.
        var writer = new BundleWriter(bundleDirectory, request.Output.Epoch, previous, owner: owner, warn: warn)
        {
            ContainerOwners = !request.Isolation.ReadOnly,
            Reuse = request.Isolation.ReadOnly && previous?.ReadOnlyRoot == true,
            Log = log,
        };
        var topLevel = new Dictionary<string, byte[]>
        {
            ["config.json"] = layout.Config,
            [WellKnownPaths.ProvenanceFile] = ProvenanceReport.Write(layout.Plan, layout.Omitted, layout.Sysroot, layout.Paths),
        };
        if (layout.Sbom is { } sbom)
        {
            topLevel[WellKnownPaths.SbomFile] = sbom;
        }

        log($"{WellKnownPaths.ProvenanceFile} names host paths by roots that differ between machines: {layout.Paths?.Describe()}.");
        writer.Write(layout.Plan, topLevel, cancel, layout.Inputs.Entries);
        return writer.Statistics;
    }

    /// <summary>Writes the OCI image layout (and its archive) and records in <paramref name="state"/> what it wrote.</summary>
    private static ImageResult WriteImage(BundleRequest request, BundleLayout layout, ImageSpec spec, BuildState? previous, BuildState state, Action<OciBundleException> warn, CancellationToken cancel)
    {
        ImageResult image = ImageLayoutWriter.Write(layout.Plan, new ImageRequest
        {
            Directory = spec.Directory,
            Tag = spec.Tag,
            Name = spec.FullName,
            DefaultArgs = spec.DefaultArgs,
            ArchivePath = spec.Archive,
            Architecture = request.Content.Arch.GoArch,
            Entrypoint = layout.Args,
            Environment = layout.Environment,
            WorkingDirectory = request.Process.WorkingDirectory,
            User = $"{request.Process.User.Uid}:{request.Process.User.Gid}",
            Labels = WithSysroot(spec.Labels, layout.Sysroot, layout.Base),
            Annotations = WithSysroot(new Dictionary<string, string>(), layout.Sysroot, layout.Base),
            Base = layout.Base,
            FromBase = layout.FromBase,
            ExposedPorts = spec.Ports,
            Volumes = request.Volumes.Select(v => v.Path).ToList(),
            RuntimeFiles = request.Content.RuntimeFiles.ToHashSet(StringComparer.Ordinal),
            Layering = spec.Layering,
            AppLibraries = layout.AppLibraries,
            AppName = request.Content.AppName,
            AppHost = request.Content.AppHost,
            Epoch = request.Output.Epoch,
            Created = layout.Created,
            Sbom = layout.Sbom is { } sbomBytes
                ? (WellKnownPaths.SbomInContainer, "sha256:" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(sbomBytes)).ToLowerInvariant())
                : null,
            Warn = warn,
            Cancel = cancel,
            Compression = spec.Compression,
            SourceIdentity = e => e.SourcePath is { } source ? state.Inputs.GetValueOrDefault("path " + source) : null,
            Reusable = ReusableLayers(previous, spec.Directory),
            PreviousEntries = previous?.Image is { } last && last.Directory == spec.Directory ? last.Entries.Keys.ToHashSet(StringComparer.Ordinal) : null,
        });
        state.Image = new BuildState.OutputRecord { Directory = spec.Directory, Entries = OutputSnapshot.Take(spec.Directory) };
        if (spec.Archive is not null)
        {
            state.ArchivePath = spec.Archive;
            state.ArchiveIdentity = NativeMethods.Identity(spec.Archive);
        }

        return image;
    }

    /// <summary>What the next up-to-date publish answers with: the rootfs's file count and size, the args, the image's digests.</summary>
    private static BuildState.SummaryRecord Summarize(BundleLayout layout, ImageResult? image)
    {
        var files = layout.Plan.Entries.Where(e => e.Kind == RootfsEntryKind.File).ToList();
        return new BuildState.SummaryRecord
        {
            FileCount = files.Count,
            TotalBytes = files.Sum(f => f.Size),
            Args = layout.Args.ToList(),
            ManifestDigest = image?.ManifestDigest,
            Layers = image?.Details.Select(l => new BuildState.LayerRecord { Name = l.Name, Digest = l.Digest, Size = l.Size, DiffId = l.DiffId, Fingerprint = l.Fingerprint ?? "" }).ToList() ?? new(),
        };
    }

    /// <summary>
    /// Why the outputs are not what these options and inputs give, or null when they are: the options or the host
    /// facts changed, a host input changed (a file by identity, a folder's listing, a probe that found nothing), or
    /// an output was changed, added to or removed from since it was written (then it is repaired).
    /// </summary>
    private static string? FirstChange(PreviousPublish last, string key, BundleRequest request)
    {
        BuildState previous = last.Saved!;
        if (previous.Key != key)
        {
            return "the options changed";
        }

        if (last.InputChange is { } input)
        {
            return "an input changed: " + input;
        }

        if ((request.Output.BundleDirectory is not null) != previous.Bundle is not null || (request.Output.Image is not null) != previous.Image is not null)
        {
            return "other outputs were asked for";
        }

        if (last.OutputChange is { } output)
        {
            return output;
        }

        if (previous.ArchivePath is not null && NativeMethods.Identity(previous.ArchivePath) != previous.ArchiveIdentity)
        {
            return $"{previous.ArchivePath} was changed since it was written";
        }

        return null;
    }

    /// <summary>
    /// The previous publish's layers in this same layout folder, by what they were made from, with the identity their
    /// blob had when written: an unchanged layer is linked, not read and compressed again.
    /// </summary>
    private static Dictionary<string, ReusableLayer>? ReusableLayers(BuildState? previous, string directory)
    {
        if (previous?.Image is not { } image || image.Directory != directory)
        {
            return null;
        }

        var reusable = new Dictionary<string, ReusableLayer>(StringComparer.Ordinal);
        foreach (BuildState.LayerRecord layer in previous.Summary.Layers)
        {
            // Only a digest as this product writes it names a blob: never a path out of the layout, whatever obj/ holds.
            if (!ImageLayoutWriter.IsSha256Digest(layer.Digest) || !ImageLayoutWriter.IsSha256Digest(layer.DiffId))
            {
                continue;
            }

            string blob = "blobs/sha256/" + layer.Digest["sha256:".Length..];
            if (layer.Fingerprint.Length > 0 && image.Entries.TryGetValue(blob, out string? identity))
            {
                reusable[layer.Fingerprint] = new ReusableLayer(layer.Digest, layer.DiffId, layer.Size, Path.Combine(directory, blob), identity);
            }
        }

        return reusable;
    }

    /// <summary>The label and annotation that name the sysroot's digest (see README, "Sysroots"): the user's own labels win.</summary>
    internal const string SysrootDigestAnnotation = "io.ocibundle.sysroot.digest";

    private static IReadOnlyDictionary<string, string> WithSysroot(IReadOnlyDictionary<string, string> labels, Sysroots.MaterializedSysroot? sysroot, Sysroots.BaseImage? built)
    {
        string? digest = sysroot?.Digest;
        if (digest is null && built is null)
        {
            return labels;
        }

        var merged = new Dictionary<string, string>(StringComparer.Ordinal);
        if (digest is not null)
        {
            merged[SysrootDigestAnnotation] = digest;
        }

        if (built is not null)
        {
            // OciImageBase: the image this one derives from, layer for layer.
            merged["org.opencontainers.image.base.digest"] = built.Digest;
            merged["org.opencontainers.image.base.name"] = built.Name;
        }
        else if (sysroot!.Form is "oci-layout" or "oci-archive" or "registry")
        {
            // The image the libraries came from, as the OCI annotation for a base image names it (a manifest digest).
            merged["org.opencontainers.image.base.digest"] = digest!;
        }

        if (built is null && sysroot!.BaseName is { } name)
        {
            merged["org.opencontainers.image.base.name"] = name;
        }

        foreach ((string key, string value) in labels)
        {
            merged[key] = value;
        }

        return merged;
    }

    /// <summary>What the plan depends on besides the options: the product itself, who runs it, and where .NET is.</summary>
    /// <summary>The up-to-date key: every part of the request but its warnings (reported, not built), and the host's facts.</summary>
    internal static string KeyOf(BundleRequest request) =>
        RequestKey.Of(new object[] { request.Content, request.Process, request.Isolation, request.Output, request.Volumes }, HostFacts());

    private static string HostFacts() =>
        $"format {BuildState.CurrentFormat}, engine {typeof(BundleBuilder).Assembly.ManifestModule.ModuleVersionId}, runtime {typeof(object).Assembly.Location}, "
        + $"machine {System.Runtime.InteropServices.RuntimeInformation.OSArchitecture}, ids {CurrentIds.Uid}:{CurrentIds.Gid}, "
        + $"sudo {Environment.GetEnvironmentVariable("SUDO_UID")}:{Environment.GetEnvironmentVariable("SUDO_GID")}";

    private static BundleResult Result(BundleRequest request, BuildState.SummaryRecord summary, bool upToDate, TimeSpan planTime, TimeSpan writeTime, WriteStatistics statistics, ImageResult? written = null)
    {
        ImageResult? image = written ?? (summary.ManifestDigest is null ? null
            : new ImageResult(summary.ManifestDigest, summary.Layers.Select(l => new LayerResult(l.Name, l.Digest, l.Size, l.DiffId, l.Fingerprint, Reused: false)).ToList()));
        return new BundleResult(request.Output.BundleDirectory ?? "", request.Isolation.Hostname, summary.FileCount, summary.TotalBytes, summary.Args, upToDate, planTime, writeTime, statistics, request.Output.Image?.Directory, image)
        {
            HttpPorts = request.Process.ListeningPorts,
            HostNetwork = request.Isolation.HostNetwork,
            ImageName = request.Output.Image?.FullName,
            ImageArchive = request.Output.Image?.Archive,
            Volumes = request.Volumes.Where(v => v.HostFolder is not null).Select(v => new VolumeBinding(v.Path, v.HostFolder!)).ToList(),
        };
    }
}

/// <summary>A warning of the request is an error to this build: the publish stops before anything is written.</summary>
internal sealed class StoppedByWarningsException : Exception
{
    public StoppedByWarningsException()
        : base("a warning is treated as an error")
    {
    }
}

/// <summary>What a build produced, for the summary line and the benchmark; <see cref="UpToDate"/> when nothing had to be written.</summary>
internal sealed record BundleResult(
    string BundleDirectory,
    string ContainerId,
    int FileCount,
    long TotalBytes,
    IReadOnlyList<string> Args,
    bool UpToDate,
    TimeSpan PlanTime,
    TimeSpan WriteTime,
    WriteStatistics Statistics,
    string? ImageDirectory = null,
    ImageResult? Image = null)
{
    /// <summary>The ports an ASP.NET Core app listens on (<c>ASPNETCORE_HTTP_PORTS</c>), for the summary line; null when unknown or not a web app.</summary>
    public string? HttpPorts { get; init; }

    public bool HostNetwork { get; init; }

    /// <summary>Each volume of the bundle and the host folder it binds, for an output line each.</summary>
    public IReadOnlyList<VolumeBinding> Volumes { get; init; } = Array.Empty<VolumeBinding>();

    /// <summary>The image's name (<c>io.containerd.image.name</c>), for the summary line; null when no image was asked for.</summary>
    public string? ImageName { get; init; }

    /// <summary>The <c>OciImageArchive</c> written beside the layout, for its own output line; null when none.</summary>
    public string? ImageArchive { get; init; }
}
