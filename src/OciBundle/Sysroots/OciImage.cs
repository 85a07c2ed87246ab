using Newtonsoft.Json;
using OciBundle.Diagnostics;
using OciBundle.Model.Oci;
using OciBundle.Storage;

namespace OciBundle.Sysroots;

/// <summary>
/// One image of an OCI image layout folder, chosen the way a runtime would: by tag (<c>org.opencontainers.image.ref.name</c>)
/// when one is given, then by platform (linux and the bundle's architecture) through any nested index. Every document is
/// read from the layout's store only if it hashes to the digest that names it; the image's digest is its manifest's.
/// </summary>
internal sealed class OciImage
{
    private OciImage(BlobStore store, string digest, string architecture, IReadOnlyList<(string Digest, string Path)> layers, IReadOnlyList<string> diffIds, IReadOnlyList<string> documents)
    {
        Store = store;
        Digest = digest;
        Architecture = architecture;
        Layers = layers;
        DiffIds = diffIds;
        Documents = documents;
    }

    /// <summary>The layout's blobs.</summary>
    public BlobStore Store { get; }

    /// <summary>The manifest's digest, as <c>skopeo inspect</c> shows it: what OciBundleSysrootDigest pins.</summary>
    public string Digest { get; }

    /// <summary>The architecture the image config names (GOARCH).</summary>
    public string Architecture { get; }

    /// <summary>The layer blobs, base first.</summary>
    public IReadOnlyList<(string Digest, string Path)> Layers { get; }

    /// <summary>
    /// The config's <c>rootfs.diff_ids</c>, as written: the digest of each layer's uncompressed tar, base first (checked
    /// against the layers as they are unpacked; a config without them gives an empty list, which no layer matches).
    /// </summary>
    public IReadOnlyList<string> DiffIds { get; }

    /// <summary>The chosen manifest, as read (its layers' media types, digests and sizes).</summary>
    public OciManifest Manifest { get; private init; } = null!;

    /// <summary>The image config, as read (the base's Env, User, Labels, history).</summary>
    public OciImageConfig Config { get; private init; } = null!;

    /// <summary>The files read to choose the image (index.json, nested indexes, the manifest, the config): inputs of the plan.</summary>
    public IReadOnlyList<string> Documents { get; }

    /// <param name="layout">The layout folder.</param>
    /// <param name="tag">The tag asked for, or null.</param>
    /// <param name="goArch">The bundle's architecture.</param>
    /// <param name="source">How errors name the sysroot.</param>
    public static OciImage Open(string layout, string? tag, string goArch, string source)
    {
        var store = new BlobStore(layout);
        string indexPath = Path.Combine(layout, "index.json");
        var documents = new List<string> { indexPath };
        OciIndex index = Read(indexPath, () => OciJson.Deserialize<OciIndex>(BlobStore.ReadSmallFile(indexPath)), source);
        IReadOnlyList<OciDescriptor> candidates = index.Manifests;
        if (tag is not null)
        {
            var tagged = candidates.Where(m => m.RefName == tag).ToList();
            if (tagged.Count == 0)
            {
                string tags = string.Join(", ", candidates.Select(m => m.RefName).OfType<string>().DefaultIfEmpty("no tags"));
                throw new OciBundleException(Strings.SysrootTagNotFound, layout, tag, tags);
            }

            candidates = tagged;
        }

        for (int depth = 0; depth < 4; depth++)
        {
            OciDescriptor chosen = Choose(candidates, goArch, source);
            string blob = BlobPath(store, chosen.Digest, source);
            documents.Add(blob);
            (OciIndex? nested, OciManifest? manifest) = Read(blob, () => OciJson.DeserializeImage(Document(store, chosen.Digest, source)), source);
            if (nested is not null)
            {
                candidates = nested.Manifests;
                continue;
            }

            if (manifest is null)
            {
                throw Unreadable(source, $"{chosen.Digest} ({chosen.MediaType}) is neither an image index nor a manifest");
            }

            string configPath = BlobPath(store, manifest.Config.Digest, source);
            documents.Add(configPath);
            OciImageConfig config = Read(configPath, () => OciJson.Deserialize<OciImageConfig>(Document(store, manifest.Config.Digest, source)), source);
            var layerBlobs = manifest.Layers.Select(l => (l.Digest, BlobPath(store, l.Digest, source))).ToList();
            if (layerBlobs.FirstOrDefault(l => !File.Exists(l.Item2)) is { Item2: not null } missing)
            {
                throw Unreadable(source, $"the layer blob {missing.Item2} is missing (a layout copied in part, or a foreign layer)");
            }

            return new OciImage(store, chosen.Digest, config.Architecture ?? "", layerBlobs, config.RootFs?.DiffIds ?? Array.Empty<string>(), documents) { Manifest = manifest, Config = config };
        }

        throw Unreadable(source, "image indexes nested deeper than 4");
    }

    /// <summary>The one descriptor to follow: the only one, or the one for linux and the architecture (<paramref name="missing"/>, or OCIB1305, when there is none).</summary>
    internal static OciDescriptor Choose(IReadOnlyList<OciDescriptor> candidates, string goArch, string source, Diagnostic? missing = null)
    {
        if (candidates.Count == 0)
        {
            throw Unreadable(source, "an image index with no manifests");
        }

        var withPlatform = candidates.Where(c => c.Platform is not null).ToList();
        if (withPlatform.Count == 0)
        {
            if (candidates.Count == 1)
            {
                return candidates[0];
            }

            throw Unreadable(source, $"{candidates.Count} images without platforms or tags: name one as 'folder:tag'");
        }

        // Attestations ("unknown/unknown") and other systems are never a sysroot.
        OciDescriptor? match = withPlatform.FirstOrDefault(c => c.Platform!.Os == "linux" && c.Platform.Architecture == goArch);
        if (match is null)
        {
            string platforms = string.Join(", ", withPlatform.Select(c => c.Platform!.ToString()).Distinct());
            throw new OciBundleException(missing ?? Strings.SysrootPlatformNotFound, source, goArch, platforms);
        }

        return match;
    }

    /// <summary>Where a blob lives; a digest that is not sha256 and 64 hex digits names no file (no path is made of it).</summary>
    private static string BlobPath(BlobStore store, string digest, string source)
    {
        try
        {
            return store.PathOf(digest);
        }
        catch (BlobStoreException e)
        {
            throw Unreadable(source, e.Message);
        }
    }

    /// <summary>A document of the store: a regular file, not larger than a manifest can be, holding what its digest says.</summary>
    private static byte[] Document(BlobStore store, string digest, string source)
    {
        try
        {
            return store.ReadDocument(digest);
        }
        catch (BlobStoreException e) when (e.Problem == BlobProblem.Corrupt)
        {
            throw new OciBundleException(Strings.SysrootBlobCorrupt, source, e.BlobPath, digest);
        }
    }

    /// <summary>A document parsed, its read and JSON failures the sysroot's coded errors.</summary>
    private static T Read<T>(string path, Func<T> read, string source)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(source, e.Message);
        }
        catch (JsonException e)
        {
            throw Unreadable(source, $"{Path.GetFileName(path)} is not JSON of its kind: {e.Message}");
        }
    }

    private static OciBundleException Unreadable(string source, string why) => new(Strings.SysrootUnreadable, source, why);
}
