using Newtonsoft.Json;
using OciBundle.Diagnostics;
using OciBundle.Model.Oci;
using OciBundle.Storage;

namespace OciBundle.Registries;

/// <summary>A blob of the layout: its digest, size and media type, read from the layout's store.</summary>
internal sealed record LayoutBlob(string Digest, long Size, string MediaType, BlobStore Store)
{
    /// <summary>Its file, opened as the store opens blobs (a regular file only).</summary>
    public FileStream Open() => Store.Open(Digest);
}

/// <summary>A manifest (or image index) of the layout, as bytes: pushed as they are, so the registry's digest is the layout's.</summary>
internal sealed record LayoutManifest(string Digest, string MediaType, byte[] Content);

/// <summary>
/// What a push reads of an image layout this product wrote: the manifest <c>index.json</c> points at (an image
/// index's manifests first, for a multi-architecture image) and every blob they name, each document read from the
/// layout's store only if it hashes to its digest. The push never builds anything: it sends what the image stage wrote.
/// </summary>
internal sealed record ImageLayout(LayoutManifest Top, IReadOnlyList<LayoutManifest> Children, IReadOnlyList<LayoutBlob> Blobs)
{
    /// <summary>The base images the manifests name (<c>org.opencontainers.image.base.name</c>, OciImageBase's): where their layers may be mounted from.</summary>
    public IReadOnlyList<Request.ImageReference> BaseImages { get; init; } = Array.Empty<Request.ImageReference>();

    public static ImageLayout Read(string directory)
    {
        try
        {
            var store = new BlobStore(directory);
            OciIndex index = OciJson.Deserialize<OciIndex>(BlobStore.ReadSmallFile(Path.Combine(directory, "index.json")));
            if (index.Manifests.Count != 1)
            {
                throw new OciBundleException(Strings.LayoutUnreadable, directory, "its index.json does not point at exactly one manifest");
            }

            LayoutManifest top = Manifest(store, index.Manifests[0]);
            (OciIndex? nested, OciManifest? single) = OciJson.DeserializeImage(top.Content);
            List<LayoutManifest> children = nested?.Manifests.Select(m => Manifest(store, m)).ToList() ?? new List<LayoutManifest>();
            IEnumerable<OciManifest?> images = nested is null ? new[] { single } : children.Select(c => OciJson.DeserializeImage(c.Content).Manifest);
            var blobs = new List<LayoutBlob>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var bases = new List<Request.ImageReference>();
            foreach (OciManifest image in images.Select(i => i ?? throw new OciBundleException(Strings.LayoutUnreadable, directory, "a document it names is neither an image index nor a manifest")))
            {
                if (image.Annotations?.GetValueOrDefault("org.opencontainers.image.base.name") is { } name && Request.ImageReference.Parse("docker://" + name, out _) is { } named)
                {
                    bases.Add(named);
                }

                foreach (OciDescriptor d in image.Layers.Prepend(image.Config).Where(d => seen.Add(d.Digest)))
                {
                    store.PathOf(d.Digest); // a digest that names no blob is refused here, before anything is sent
                    blobs.Add(new LayoutBlob(d.Digest, d.Size, d.MediaType, store));
                }
            }

            return new ImageLayout(top, children, blobs) { BaseImages = bases };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            bool noIndex = e is BlobStoreException { Problem: BlobProblem.Missing } missing && Path.GetFileName(missing.BlobPath) == "index.json";
            throw new OciBundleException(Strings.LayoutUnreadable, directory, noIndex ? "it has no index.json" : e.Message);
        }
    }

    private static LayoutManifest Manifest(BlobStore store, OciDescriptor descriptor) =>
        new(descriptor.Digest, descriptor.MediaType, store.ReadDocument(descriptor.Digest));
}
