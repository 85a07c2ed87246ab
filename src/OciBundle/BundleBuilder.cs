using OciBundle.Closure;
using OciBundle.Diagnostics;
using OciBundle.Image;
using OciBundle.Rootfs;

namespace OciBundle;

/// <summary>The engine's entry point: validate, plan, write. Knows nothing of MSBuild.</summary>
public static class BundleBuilder
{
    /// <summary>Builds the bundle. Every mistake comes out as an <see cref="OciBundleException"/>; the previous bundle is untouched then.</summary>
    /// <param name="options">What to build.</param>
    /// <param name="log">Receives detail messages (low importance).</param>
    /// <param name="warn">Receives warnings (accepted aliases and the like).</param>
    /// <param name="statePath">Where to remember what was copied, so the next publish can reuse unchanged files; null: copy everything.</param>
    public static BundleResult Build(BundleOptions options, Action<string> log, Action<OciBundleException> warn, string? statePath = null)
    {
        var errors = new List<OciBundleException>();
        BundleRequest request = BundleRequest.Validate(options, errors);
        if (errors.Count > 0)
        {
            throw new BundleValidationException(errors);
        }

        foreach (OciBundleException warning in request.Warnings)
        {
            warn(warning);
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        BundleLayout layout = BundlePlanner.Plan(request, log);
        TimeSpan planTime = clock.Elapsed;

        WriteStatistics statistics = new();
        if (options.WriteBundle)
        {
            var writer = new BundleWriter(request.BundleDirectory, options.SourceDateEpoch, statePath, owner: options.Rootless ? (request.HostUid, request.HostGid) : null);
            writer.Write(layout.Plan, new Dictionary<string, byte[]>
            {
                ["config.json"] = layout.Config,
                [ProvenanceReport.FileName] = ProvenanceReport.Write(layout.Plan, layout.Omitted),
            });
            statistics = writer.Statistics;
        }

        ImageResult? image = null;
        if (request.ImageDirectory is not null)
        {
            image = ImageLayoutWriter.Write(layout.Plan, new ImageRequest
            {
                Directory = request.ImageDirectory,
                Tag = options.ImageTag,
                ArchivePath = string.IsNullOrWhiteSpace(options.ImageArchive) ? null : options.ImageArchive,
                Architecture = request.Arch.GoArch,
                Entrypoint = layout.Args,
                Environment = layout.Environment,
                WorkingDirectory = request.WorkingDirectory,
                User = $"{request.Uid}:{request.Gid}",
                Labels = new Dictionary<string, string>(options.ImageLabels),
                ExposedPorts = request.ImagePorts,
                RuntimeFiles = options.RuntimeFiles.Select(f => Sysroot.Normalize(request.WorkingDirectory + "/" + f.Replace('\\', '/'))).ToHashSet(StringComparer.Ordinal),
                Epoch = options.SourceDateEpoch ?? BundleWriter.DefaultEpoch,
            });
        }

        var files = layout.Plan.Entries.Where(e => e.Kind == RootfsEntryKind.File).ToList();
        string publishPrefix = request.PublishDirectory + "/";
        var hostSources = files.Select(f => f.SourcePath).OfType<string>().Where(s => !s.StartsWith(publishPrefix, StringComparison.Ordinal)).ToList();
        return new BundleResult(request.BundleDirectory, request.Hostname, files.Count, files.Sum(f => f.Size), layout.Args, hostSources, planTime, clock.Elapsed - planTime, statistics, request.ImageDirectory, image);
    }
}

/// <summary>
/// What a build produced, for the summary line and the benchmark. <see cref="HostSources"/>: the build-machine files
/// outside the publish folder that the bundle or image was made from (its closure, data files, OciBundleFile items).
/// </summary>
public sealed record BundleResult(
    string BundleDirectory,
    string ContainerId,
    int FileCount,
    long TotalBytes,
    IReadOnlyList<string> Args,
    IReadOnlyList<string> HostSources,
    TimeSpan PlanTime,
    TimeSpan WriteTime,
    WriteStatistics Statistics,
    string? ImageDirectory = null,
    ImageResult? Image = null);

/// <summary>Several mistakes in the options, each with its own code.</summary>
public sealed class BundleValidationException : Exception
{
    public BundleValidationException(IReadOnlyList<OciBundleException> errors)
        : base(string.Join(Environment.NewLine, errors.Select(e => $"{e.Code}: {e.Message}")))
    {
        Errors = errors;
    }

    public IReadOnlyList<OciBundleException> Errors { get; }
}
