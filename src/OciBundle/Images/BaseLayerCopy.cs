using OciBundle.Diagnostics;
using OciBundle.Model.Oci;
using OciBundle.Storage;
using OciBundle.Sysroots;

namespace OciBundle.Images;

/// <summary>
/// The base image's layers into the image's store as they are: each blob copied from the layout it was pulled or read
/// into and checked against its digest on the way (a changed blob is an error, never a different layer), with its own
/// media type, size and <c>diff_id</c>. So the image's first layers are the base's, digest for digest, and a push finds
/// them at the registry (or mounts them) instead of sending them.
/// </summary>
internal static class BaseLayerCopy
{
    public static IReadOnlyList<LayerResult> Put(BlobStore store, BaseImage image, CancellationToken cancel)
    {
        var results = new List<LayerResult>();
        for (int i = 0; i < image.Layers.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            BaseLayer layer = image.Layers[i];
            OciDescriptor descriptor = layer.Descriptor;
            if (!store.Exists(descriptor.Digest))
            {
                Copy(store, layer, image.Source);
            }

            results.Add(new LayerResult($"base {image.Name} layer {i + 1}", descriptor.Digest, descriptor.Size, layer.DiffId, null, Reused: false) { MediaType = descriptor.MediaType });
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
