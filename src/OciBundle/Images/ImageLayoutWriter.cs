using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Model.Oci;
using OciBundle.Outputs;
using OciBundle.Storage;

namespace OciBundle.Images;

/// <summary>
/// Writes an OCI image layout (image-spec v1.1: <c>oci-layout</c>, <c>index.json</c>, <c>blobs/sha256/</c>) from the
/// same planned root file system as the bundle, on a base image's layers when <c>OciImageBase</c> names one
/// (<see cref="BaseLayerCopy"/>: its layers first, as they are; its config merged by <see cref="ImageConfigMerge"/>). The
/// layers are split so that an app change re-ships only the app: system files (libraries, data, accounts), the .NET
/// runtime, then the app folder by how often its files change (<see cref="AppLayers"/>: NuGet packages in fixed groups,
/// project references, content, the app's own files; or one app layer with <c>OciImageLayering=SingleAppLayer</c>). Each layer is a
/// compressed tar with sorted entries, fixed timestamps, and the bundle's modes and owners (<see cref="LayerWriter"/>),
/// and every document is written by <see cref="OciJson"/>, so the same inputs give the same manifest digest.
/// </summary>
internal static class ImageLayoutWriter
{
    /// <summary>Whether a text is a digest as this product writes one (<c>sha256:</c> and 64 lowercase hex digits): only such a text names a blob.</summary>
    public static bool IsSha256Digest(string digest) => OciDigest.IsSha256(digest);

    public static ImageResult Write(RootfsPlan plan, ImageRequest request)
    {
        List<(string Name, List<RootfsEntry> Entries)> layers = Split(plan, request);
        try
        {
            using var staged = new StagedDirectory(request.Directory, request.LockTimeout, OutputKind.Image, request.Warn, request.PreviousEntries);
            BlobStore store = new BlobStore(staged.StagingPath).Create();
            IReadOnlyList<LayerResult> written = LayerWriter.WriteAll(layers, store, request);
            if (request.Base is { } baseImage)
            {
                written = BaseLayerCopy.Put(store, baseImage, request.Reusable, request.Cancel).Concat(written).ToList();
            }

            string manifestDigest = WriteDocuments(store, request, written);
            File.WriteAllBytes(Path.Combine(staged.StagingPath, OutputFolder.MarkerName), OutputFolder.Marker(OutputKind.Image));
            FixTimes(staged.StagingPath, request.Epoch);
            request.Cancel.ThrowIfCancellationRequested();
            staged.Commit();

            if (!string.IsNullOrEmpty(request.ArchivePath))
            {
                OciArchiveWriter.Write(request.Directory, request.ArchivePath!, request.Epoch);
            }

            return new ImageResult(manifestDigest, written);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.BundleWriteFailed, request.Directory, e.Message);
        }
    }

    /// <summary>
    /// Assigns every path to a layer: the .NET runtime (a framework-dependent app's /usr/share/dotnet, a
    /// self-contained app's runtime-pack files), the app folder's files by <see cref="AppLayers"/> (packages in their
    /// groups, project references, content, the app's own), the system (the rest). Each layer carries the directories
    /// above its files, so it unpacks alone with the right modes; a layer with no file is left out.
    /// </summary>
    internal static List<(string Name, List<RootfsEntry> Entries)> Split(RootfsPlan plan, ImageRequest request)
    {
        string app = request.WorkingDirectory.TrimEnd('/') + "/";
        AppLayers appLayers = AppLayers.Of(request.Layering, request.AppLibraries, request.AppName, request.AppHost);
        // Hash tables sorted once at the end: a sorted dictionary is compiled on each publish (its nodes are a framework
        // value type), and sorts as it goes.
        var groups = new Dictionary<string, RootfsEntry>[AppLayers.Names.Count];
        for (int i = 0; i < groups.Length; i++)
        {
            groups[i] = new Dictionary<string, RootfsEntry>(StringComparer.Ordinal);
        }

        RootfsEntry[] all = plan.Entries.ToArray();
        var byPath = all.ToDictionary(e => e.Path, StringComparer.Ordinal);
        foreach (RootfsEntry entry in all)
        {
            if (entry.Path == "/" || request.FromBase?.Contains(entry.Path) == true)
            {
                continue; // a path the base image's layers already hold as planned
            }

            bool underApp = entry.Path.StartsWith(app, StringComparison.Ordinal);
            bool underDotnet = entry.Path.StartsWith(WellKnownPaths.DotnetRoot + "/", StringComparison.Ordinal);
            if (entry.Kind == RootfsEntryKind.Directory && (underApp || underDotnet || entry.Path + "/" == app))
            {
                continue; // placed with the files below it
            }

            // The SBOM changes with the app: it goes with it, so the other layers stay the same blobs.
            bool isSbom = request.Sbom is { } sbom && entry.Path == sbom.Path;
            int layer = underDotnet || (underApp && request.RuntimeFiles.Contains(entry.Path)) ? AppLayers.RuntimeLayer
                : underApp ? appLayers.LayerOf(entry.Path[app.Length..])
                : isSbom ? AppLayers.AppLayer
                : AppLayers.SystemLayer;
            groups[layer][entry.Path] = entry;
            for (string parent = RootfsPlan.Parent(entry.Path); parent != "/" && request.FromBase?.Contains(parent) != true; parent = RootfsPlan.Parent(parent))
            {
                groups[layer].TryAdd(parent, byPath[parent]);
            }
        }

        var layers = new List<(string Name, List<RootfsEntry> Entries)>();
        for (int i = 0; i < groups.Length; i++)
        {
            if (groups[i].Count > 0)
            {
                var entries = groups[i].Values.ToList();
                entries.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
                layers.Add((AppLayers.Names[i], entries));
            }
        }

        return layers;
    }

    /// <summary>The config and the manifest into the store, <c>index.json</c> and <c>oci-layout</c> beside it; the manifest's digest.</summary>
    private static string WriteDocuments(BlobStore store, ImageRequest request, IReadOnlyList<LayerResult> written)
    {
        string created = DateTimeOffset.FromUnixTimeSeconds(request.Created ?? request.Epoch).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var config = new OciImageConfig
        {
            Created = created,
            Architecture = request.Architecture,
            Variant = request.Base?.Config.Variant,
            Os = "linux",
            OsVersion = request.Base?.Config.OsVersion,
            OsFeatures = request.Base?.Config.OsFeatures,
            Config = ContainerConfig(request),
            RootFs = new OciRootFs { Type = "layers", DiffIds = written.Select(l => l.DiffId).ToList() },
            History = ImageConfigMerge.History(request.Base?.Config.History, written.Where(l => l.MediaType is not null).Select(l => l.Name).ToList())
                .Concat(written.Where(l => l.MediaType is null).Select(l => new OciHistory { Created = created, CreatedBy = "OciBundle.Sdk: " + l.Name })).ToList(),
        };
        (string configDigest, long configSize) = store.Put(OciJson.Serialize(config));

        string layerMediaType = BlobCompression.Of(request.Compression).LayerMediaType;
        var manifest = new OciManifest
        {
            SchemaVersion = 2,
            MediaType = OciMediaTypes.ImageManifest,
            Config = new OciDescriptor { MediaType = OciMediaTypes.ImageConfig, Digest = configDigest, Size = configSize },
            Layers = written.Select(l => new OciDescriptor { MediaType = l.MediaType ?? layerMediaType, Digest = l.Digest, Size = l.Size }).ToList(),
            Annotations = ManifestAnnotations(request, created),
        };
        (string manifestDigest, long manifestSize) = store.Put(OciJson.Serialize(manifest));

        var index = new OciIndex
        {
            SchemaVersion = 2,
            MediaType = OciMediaTypes.ImageIndex,
            Manifests = new[]
            {
                new OciDescriptor
                {
                    MediaType = OciMediaTypes.ImageManifest,
                    Digest = manifestDigest,
                    Size = manifestSize,
                    Platform = new OciPlatform { Architecture = request.Architecture, Os = "linux" },
                    // ref.name is the tag, as the image spec says (skopeo's oci:<dir>:<tag> finds it by that); containerd's
                    // import and podman's oci-archive: name the image by io.containerd.image.name, as buildkit writes it.
                    Annotations = new OrderedMap { [OciAnnotationKeys.ContainerdImageName] = request.Name, [OciAnnotationKeys.RefName] = request.Tag },
                },
            },
        };
        File.WriteAllBytes(Path.Combine(store.Root, "index.json"), OciJson.Serialize(index));
        File.WriteAllBytes(Path.Combine(store.Root, "oci-layout"), OciJson.Serialize(new OciLayoutFile()));
        return manifestDigest;
    }

    /// <summary>The creation time; the request's own (the sysroot's digest); with an SBOM, where it is in rootfs and its digest (<c>io.ocibundle.sbom.*</c>).</summary>
    private static OrderedMap ManifestAnnotations(ImageRequest request, string created)
    {
        var annotations = new OrderedMap { [OciAnnotationKeys.Created] = created };
        foreach ((string key, string value) in (request.Annotations ?? new Dictionary<string, string>()).OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            annotations[key] = value;
        }

        if (request.Sbom is { } sbom)
        {
            annotations["io.ocibundle.sbom.path"] = sbom.Path;
            annotations["io.ocibundle.sbom.digest"] = sbom.Digest;
            annotations["io.ocibundle.sbom.format"] = "spdx+json; version=2.3";
        }

        return annotations;
    }

    /// <summary>What an engine runs: user, environment, entry point, working folder; <c>Cmd</c>, ports and volumes only when there are some; labels, sorted.</summary>
    private static OciContainerConfig ContainerConfig(ImageRequest request) => new()
    {
        User = request.User,
        Env = request.Environment.Select(e => $"{e.Key}={e.Value}").ToList(),
        Entrypoint = request.Entrypoint.ToList(),
        WorkingDir = request.WorkingDirectory,
        Cmd = request.DefaultArgs.Count > 0 ? request.DefaultArgs.ToList() : null,
        ExposedPorts = ImageConfigMerge.Union(request.Base?.Config.Config?.ExposedPorts?.Keys, request.ExposedPorts),
        Volumes = ImageConfigMerge.Union(request.Base?.Config.Config?.Volumes?.Keys, request.Volumes),
        Labels = ImageConfigMerge.Labels(request.Base?.Config.Config?.Labels, request.Labels),
        StopSignal = request.Base?.Config.Config?.StopSignal,
    };

    /// <summary>
    /// What a layer's bytes are made of, without reading a file: each entry's path, kind, mode, owner, link and
    /// size; each file's source identity (inode, size, mtime and ctime) or its bytes' digest; and how it is packed
    /// (the format, compression, chunk size, timestamp, this engine and its runtime). Null when a source's identity
    /// is unknown: then the layer is always written.
    /// </summary>
    internal static string? Fingerprint(List<RootfsEntry> entries, ImageRequest request)
    {
        if (request.SourceIdentity is null)
        {
            return null;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text) => hash.AppendData(Encoding.UTF8.GetBytes(text));
        Add($"ocibundle-layer 1\n{request.Compression} {ChunkedCompressor.ChunkSize} {BlobCompression.ZstdLevel} {ChunkedCompressor.Probe(request.Compression)}\n{request.Epoch}\n"
            + $"{typeof(ImageLayoutWriter).Assembly.ManifestModule.ModuleVersionId} {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription} {typeof(object).Assembly.Location}\n");
        foreach (RootfsEntry e in entries)
        {
            string content = "";
            if (e.Kind == RootfsEntryKind.File)
            {
                if (e.Content is not null)
                {
                    content = "bytes " + Convert.ToHexString(SHA256.HashData(e.Content));
                }
                else if (request.SourceIdentity(e) is { } identity)
                {
                    content = $"source {e.SourcePath}\0{e.SourceInode}\0{identity}";
                }
                else
                {
                    return null;
                }
            }

            Add($"{e.Path}\0{e.Kind}\0{(int)e.Mode}\0{e.OwnerId}\0{e.GroupId}\0{e.LinkTarget}\0{e.Size}\0{content}\n");
        }

        return "sha256:" + Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }

    private static void FixTimes(string root, long epoch)
    {
        foreach (string path in System.IO.Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Append(root))
        {
            File.SetUnixFileMode(path, System.IO.Directory.Exists(path) ? RootfsPlan.DirectoryMode : (UnixFileMode)0b110_100_100);
            NativeMethods.SetTimes(path, epoch);
        }
    }
}
