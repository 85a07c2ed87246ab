using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;

namespace OciBundle.Registries;

/// <summary>A blob of the layout: its digest, size, media type and file.</summary>
internal sealed record LayoutBlob(string Digest, long Size, string MediaType, string Path);

/// <summary>A manifest (or image index) of the layout, as bytes: pushed as they are, so the registry's digest is the layout's.</summary>
internal sealed record LayoutManifest(string Digest, string MediaType, byte[] Content);

/// <summary>
/// What a push reads of an image layout this product wrote: the manifest <c>index.json</c> points at (an image
/// index's manifests first, for a multi-architecture image) and every blob they name. The push never builds
/// anything: it sends what the image stage wrote.
/// </summary>
internal sealed record ImageLayout(LayoutManifest Top, IReadOnlyList<LayoutManifest> Children, IReadOnlyList<LayoutBlob> Blobs)
{
    public static ImageLayout Read(string directory)
    {
        try
        {
            JObject index = JObject.Parse(File.ReadAllText(System.IO.Path.Combine(directory, "index.json")));
            if (index["manifests"] is not JArray { Count: 1 } manifests)
            {
                throw new OciBundleException(Strings.LayoutUnreadable, directory, "its index.json does not point at exactly one manifest");
            }

            LayoutManifest top = Manifest(directory, manifests[0]!);
            var children = new List<LayoutManifest>();
            var blobs = new List<LayoutBlob>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            JObject topDocument = JObject.Parse(System.Text.Encoding.UTF8.GetString(top.Content));
            IEnumerable<JObject> images = topDocument["manifests"] is JArray nested
                ? nested.Select(m => Manifest(directory, m)).Select(m => { children.Add(m); return JObject.Parse(System.Text.Encoding.UTF8.GetString(m.Content)); }).ToList()
                : new[] { topDocument };
            foreach (JObject image in images)
            {
                foreach (JToken d in new[] { image["config"]! }.Concat(image["layers"] ?? new JArray()))
                {
                    string digest = (string)d["digest"]!;
                    if (seen.Add(digest))
                    {
                        blobs.Add(new LayoutBlob(digest, (long)d["size"]!, (string)d["mediaType"]!, BlobPath(directory, digest)));
                    }
                }
            }

            return new ImageLayout(top, children, blobs);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NullReferenceException or InvalidCastException or FormatException or ArgumentException or InvalidOperationException or OverflowException)
        {
            throw new OciBundleException(Strings.LayoutUnreadable, directory, e is FileNotFoundException or DirectoryNotFoundException ? "it has no index.json" : e.Message);
        }
    }

    private static LayoutManifest Manifest(string directory, JToken descriptor)
    {
        string digest = (string)descriptor["digest"]!;
        byte[] content = File.ReadAllBytes(BlobPath(directory, digest));
        string actual = "sha256:" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(content)).ToLowerInvariant();
        if (actual != digest)
        {
            throw new OciBundleException(Strings.LayoutUnreadable, directory, $"blob {digest} does not hold what its digest says (it hashes to {actual})");
        }

        return new LayoutManifest(digest, (string)descriptor["mediaType"]!, content);
    }

    private static string BlobPath(string directory, string digest)
    {
        if (!digest.StartsWith("sha256:", StringComparison.Ordinal) || digest.Length != 71 || digest[7..].Any(c => !char.IsAsciiHexDigitLower(c)))
        {
            throw new FormatException($"'{digest}' is not a sha256 digest");
        }

        return System.IO.Path.Combine(directory, "blobs", "sha256", digest[7..]);
    }
}
