using OciBundle.Diagnostics;
using OciBundle.Dotnet;
using OciBundle.Model;

namespace OciBundle.Images;

/// <summary>What an image is made of besides the root file system: the process, the labels, where it goes. No defaults: all from the request.</summary>
internal sealed record ImageRequest
{
    public required string Directory { get; init; }
    public required string Tag { get; init; }

    /// <summary>The image's full name (<c>registry/repository:tag</c>, <c>localhost/repository:tag</c> with no registry): the <c>io.containerd.image.name</c> annotation that containerd and podman name an imported image by.</summary>
    public required string Name { get; init; }
    public required string? ArchivePath { get; init; }
    public required string Architecture { get; init; }
    public required IReadOnlyList<string> Entrypoint { get; init; }

    /// <summary><c>Cmd</c>: the arguments an engine appends to the entry point when the run gives none (<c>OciImageDefaultArgs</c>).</summary>
    public IReadOnlyList<string> DefaultArgs { get; init; } = Array.Empty<string>();
    public required IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; }
    public required string WorkingDirectory { get; init; }
    public required string User { get; init; }
    public required IReadOnlyDictionary<string, string> Labels { get; init; }

    /// <summary>More annotations of the manifest (the sysroot's digest), beside <c>org.opencontainers.image.created</c>.</summary>
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
    public required IReadOnlyCollection<string> ExposedPorts { get; init; }

    /// <summary>The <c>OciBundleVolume</c> folders: the config's <c>Volumes</c>.</summary>
    public IReadOnlyCollection<string> Volumes { get; init; } = Array.Empty<string>();

    /// <summary>Paths in the app folder that come from the .NET runtime pack (a self-contained app's runtime).</summary>
    public required IReadOnlySet<string> RuntimeFiles { get; init; }

    /// <summary>How the app folder is split into layers (<c>OciImageLayering</c>).</summary>
    public ImageLayering Layering { get; init; } = ImageLayering.ByChangeRate;

    /// <summary>The libraries of the app's deps.json (none for an app without one): which layer each app file goes to.</summary>
    public IReadOnlyList<DepsLibrary> AppLibraries { get; init; } = Array.Empty<DepsLibrary>();

    /// <summary>The app's assembly name (<c>$(AssemblyName)</c>): its own project in deps.json, its <c>.dll</c>, <c>.deps.json</c>, <c>.runtimeconfig.json</c> and <c>.pdb</c>.</summary>
    public string AppName { get; init; } = "";

    /// <summary>The app host's file name in the app folder; null without one.</summary>
    public string? AppHost { get; init; }

    /// <summary>Every timestamp in the layers and the layout (<c>SOURCE_DATE_EPOCH</c>, 1980-01-01 by default).</summary>
    public required long Epoch { get; init; }

    /// <summary>The image's <c>created</c> (config, history, manifest annotation): the commit's time; null for <see cref="Epoch"/>.</summary>
    public long? Created { get; init; }

    /// <summary>The SBOM's path in rootfs and its digest, named in the manifest's annotations; null without an SBOM.</summary>
    public (string Path, string Digest)? Sbom { get; init; }

    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Receives warnings (leftovers of earlier publishes that cannot be removed).</summary>
    public Action<OciBundleException>? Warn { get; init; }

    /// <summary>What the last publish wrote in the layout folder (relative paths), when known: anything else there is kept, not deleted.</summary>
    public IReadOnlySet<string>? PreviousEntries { get; init; }

    /// <summary>Stops the write before the swap, leaving the previous layout.</summary>
    public CancellationToken Cancel { get; init; }

    /// <summary>How layers are compressed (<c>OciImageLayerCompression</c>).</summary>
    public LayerCompression Compression { get; init; } = LayerCompression.Gzip;

    /// <summary>How many chunks of a layer are compressed at once. The bytes written never depend on it.</summary>
    public int Parallelism { get; init; } = System.Environment.ProcessorCount;

    /// <summary>
    /// The identity of a file's source as the plan recorded it (<see cref="State.InputLedger"/>), to know a layer
    /// unchanged without reading it; null when unknown (then the layer is written).
    /// </summary>
    public Func<RootfsEntry, string?>? SourceIdentity { get; init; }

    /// <summary><c>OciImageBase</c>: its layers come first, as they are, and its config is where the image's starts; null without one.</summary>
    public Sysroots.BaseImage? Base { get; init; }

    /// <summary>The planned paths the base's layers already hold as planned: left out of the image's own layers.</summary>
    public IReadOnlySet<string>? FromBase { get; init; }

    /// <summary>Layers of the previous publish of this layout, by fingerprint, that may be reused as they are.</summary>
    public IReadOnlyDictionary<string, ReusableLayer>? Reusable { get; init; }
}

/// <summary>A layer blob of the previous layout and the identity it had when written: reused only if it still has it.</summary>
internal sealed record ReusableLayer(string Digest, string DiffId, long Size, string BlobPath, string BlobIdentity);

/// <summary>One layer written (or reused): its digests, size, and the fingerprint of what it was made from (null: none).</summary>
internal sealed record LayerResult(string Name, string Digest, long Size, string DiffId, string? Fingerprint, bool Reused)
{
    /// <summary>The layer's media type when not the request's compression's (a base image's layer, as its manifest names it).</summary>
    public string? MediaType { get; init; }
}

/// <summary>The digests of what was written, for the summary line and for tests.</summary>
/// <param name="ManifestDigest">The image manifest's digest.</param>
/// <param name="Details">Every layer in full, with whether it was reused.</param>
internal sealed record ImageResult(string ManifestDigest, IReadOnlyList<LayerResult> Details)
{
    /// <summary>Each layer's name, digest and size, in the manifest's order.</summary>
    public IReadOnlyList<LayerDigest> Layers { get; } = Details.Select(l => new LayerDigest(l.Name, l.Digest, l.Size)).ToList();
}

/// <summary>A layer of the manifest: its name, digest and size (a class, not a tuple: a framework list of a value type is compiled on every publish).</summary>
internal sealed record LayerDigest(string Name, string Digest, long Size);
