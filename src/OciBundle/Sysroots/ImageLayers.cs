using System.Globalization;
using OciBundle.Diagnostics;
using OciBundle.Storage;

namespace OciBundle.Sysroots;

/// <summary>
/// Applies an image's layers in order into a staging root file system, each read once: its blob is hashed as it is
/// read (the digest the manifest names it by) and its uncompressed tar as it is unpacked (the <c>diff_id</c> the
/// config names it by), as containerd does. A layer that matches neither stops the unpack with the code that says
/// which (the blob's digest first: a damaged blob is OCIB1314 whatever its bytes made the decompressor or the tar
/// reader say); the caller removes the staging folder, so nothing of that image stays in the cache.
/// </summary>
internal static class ImageLayers
{
    public static void Apply(OciImage image, string rootfs, string source, Action<string> log)
    {
        if (image.DiffIds.Count != image.Layers.Count)
        {
            throw new OciBundleException(Strings.SysrootDiffIdCount, source, image.Layers.Count, image.DiffIds.Count, Unmatched(image));
        }

        Directory.CreateDirectory(rootfs);
        var unpacker = new TarUnpacker(rootfs, source) { OwnershipFile = HeaderOwnershipRecord.Beside(rootfs) };
        for (int i = 0; i < image.Layers.Count; i++)
        {
            (string digest, string path) = image.Layers[i];
            using FileStream file = OpenLayer(image, digest, source);
            using var compressed = new HashingStream(file);
            using var uncompressed = new HashingStream(BlobCompression.Decompressed(compressed, path));
            string diffId;
            try
            {
                unpacker.Unpack(uncompressed, layer: true);
                diffId = uncompressed.DigestOfAll(); // the tar's end-of-archive padding, and anything after it, is part of the layer
            }
            catch (Exception e) when (e is OciBundleException or InvalidDataException or IOException or ZstdSharp.ZstdException)
            {
                CheckBlob(compressed, digest, path, source);
                throw e is OciBundleException ? e : new OciBundleException(Strings.SysrootUnreadable, source, $"{path}: {e.Message.TrimEnd('.')}");
            }

            // Before the decompressor is closed, which closes the file.
            CheckBlob(compressed, digest, path, source);
            if (diffId != image.DiffIds[i])
            {
                throw new OciBundleException(Strings.SysrootDiffIdMismatch, source, i + 1, image.Layers.Count, digest, diffId, image.DiffIds[i]);
            }
        }

        unpacker.Finish();
        log($"Sysroot {source}: applied {image.Layers.Count} layers, {unpacker.Entries} entries ({unpacker.SkippedSpecialFiles} device nodes and FIFOs skipped), each matching its digest and its diff_id.");
    }

    /// <summary>A layer's blob, which must be a regular file: a device or a FIFO at its name is refused before a byte is read.</summary>
    private static FileStream OpenLayer(OciImage image, string digest, string source)
    {
        try
        {
            return image.Store.Open(digest);
        }
        catch (BlobStoreException e)
        {
            throw new OciBundleException(Strings.SysrootUnreadable, source, e.Message.TrimEnd('.'));
        }
    }

    /// <summary>The blob read to its end must have the digest that names it.</summary>
    private static void CheckBlob(HashingStream compressed, string digest, string path, string source)
    {
        string actual;
        try
        {
            actual = compressed.DigestOfAll();
        }
        catch (IOException e)
        {
            throw new OciBundleException(Strings.SysrootUnreadable, source, $"{path}: {e.Message.TrimEnd('.')}");
        }

        if (actual != digest)
        {
            throw new OciBundleException(Strings.SysrootBlobCorrupt, source, path, digest);
        }
    }

    /// <summary>For the count error: the layers past the diff_ids, or how many diff_ids have no layer.</summary>
    private static string Unmatched(OciImage image) =>
        image.Layers.Count > image.DiffIds.Count
            ? "no diff_id for " + string.Join(", ", image.Layers.Skip(image.DiffIds.Count).Select((l, n) => string.Create(CultureInfo.InvariantCulture, $"layer {image.DiffIds.Count + n + 1} ({l.Digest})")))
            : string.Create(CultureInfo.InvariantCulture, $"{image.DiffIds.Count - image.Layers.Count} diff_ids name no layer of the manifest");
}
