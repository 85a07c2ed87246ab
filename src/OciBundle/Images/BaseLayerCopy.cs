using OciBundle.Diagnostics;
using OciBundle.Model.Oci;
using OciBundle.Storage;
using OciBundle.Sysroots;

namespace OciBundle.Images;

/// <summary>
/// The base image's layers into the image's store as they are: each blob copied from the layout it was pulled or read
/// into and checked against its digest on the way (a changed blob is an error, never a different layer), with its own
/// media type, size and <c>diff_id</c>. So the image's first layers are the base's, digest for digest, and a push finds
/// them at the registry (or mounts them) instead of sending them. A blob the last publish copied (and checked) into this
/// same layout, and that still has the identity it was written with, is hard-linked from there as the product's own
/// unchanged layers are (<see cref="BlobStore.Adopt"/>: a copy where links are refused), not read and hashed again.
/// </summary>
internal static class BaseLayerCopy
{
    /// <summary>What a base layer is recorded as (its <see cref="LayerResult.Fingerprint"/>): its digest, which names its bytes.</summary>
    public static string FingerprintOf(string digest) => "base " + digest;

    public static IReadOnlyList<LayerResult> Put(BlobStore store, BaseImage image, IReadOnlyDictionary<string, ReusableLayer>? reusable, CancellationToken cancel)
    {
        var results = new List<LayerResult>();
        for (int i = 0; i < image.Layers.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            BaseLayer layer = image.Layers[i];
            OciDescriptor descriptor = layer.Descriptor;
            string fingerprint = FingerprintOf(descriptor.Digest);
            bool reused = !store.Exists(descriptor.Digest) && reusable?.GetValueOrDefault(fingerprint) is { } old
                && old.Digest == descriptor.Digest && old.Size == descriptor.Size && store.Adopt(old.BlobPath, old.Digest, old.Size, old.BlobIdentity);
            if (!reused && !store.Exists(descriptor.Digest))
            {
                Copy(store, layer, image.Source);
            }

            results.Add(new LayerResult($"base {image.Name} layer {i + 1}", descriptor.Digest, descriptor.Size, layer.DiffId, fingerprint, reused) { MediaType = descriptor.MediaType });
        }

        return results;
    }

    private static void Copy(BlobStore store, BaseLayer layer, string source)
    {
        try
        {
            using BlobWriter writer = store.BeginPut();
            using (FileStream blob = BlobStore.OpenFile(layer.BlobPath))
            {
                blob.CopyTo(writer.Stream, 1 << 20);
            }

            writer.Commit(layer.Descriptor.Digest);
        }
        catch (BlobStoreException e) when (e.Problem == BlobProblem.DigestMismatch)
        {
            throw new OciBundleException(Strings.SysrootBlobCorrupt, source, layer.BlobPath, layer.Descriptor.Digest);
        }
    }
}
