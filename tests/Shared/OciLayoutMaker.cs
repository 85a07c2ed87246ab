using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace OciBundle.Testing;

/// <summary>Writes OCI image layouts and archives from layer tarballs, as skopeo or umoci would: for tests of the sysroot forms.</summary>
public static class OciLayoutMaker
{
    /// <summary>
    /// A layout at <paramref name="dir"/> with one image of the given layers (each gzip-compressed into a blob, or
    /// through <paramref name="compressor"/>, which must leave the stream it is given open, with
    /// <paramref name="layerMediaType"/>), tagged <paramref name="tag"/>, for <paramref name="architecture"/>; returns
    /// the manifest's digest. <paramref name="diffIds"/> turns the layers' true diff_ids into the ones the config lists
    /// (for images whose config lies).
    /// </summary>
    public static string Write(string dir, IReadOnlyList<string> layerTarballs, string architecture = "amd64", string tag = "latest", bool platformInIndex = true,
        Func<Stream, Stream>? compressor = null, string layerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip", Func<IReadOnlyList<string>, IEnumerable<string>>? diffIds = null)
    {
        string blobs = Path.Combine(dir, "blobs", "sha256");
        Directory.CreateDirectory(blobs);
        File.WriteAllText(Path.Combine(dir, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        var layers = new List<(string Digest, long Size, string DiffId)>();
        foreach (string tarball in layerTarballs)
        {
            string diffId = Digest(File.ReadAllBytes(tarball));
            var compressed = new MemoryStream();
            using (Stream z = compressor?.Invoke(compressed) ?? new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            using (FileStream input = File.OpenRead(tarball))
            {
                input.CopyTo(z);
            }

            (string d, long s) = Blob(blobs, compressed.ToArray());
            layers.Add((d, s, diffId));
        }

        IEnumerable<string> listed = diffIds?.Invoke(layers.Select(l => l.DiffId).ToList()) ?? layers.Select(l => l.DiffId);
        string config = $"{{\"architecture\":\"{architecture}\",\"os\":\"linux\",\"config\":{{}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{string.Join(",", listed.Select(d => $"\"{d}\""))}]}}}}";
        (string configDigest, long configSize) = Blob(blobs, Encoding.UTF8.GetBytes(config));
        string manifest = $"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{configDigest}\",\"size\":{configSize}}},\"layers\":[{string.Join(",", layers.Select(l => $"{{\"mediaType\":\"{layerMediaType}\",\"digest\":\"{l.Digest}\",\"size\":{l.Size}}}"))}]}}";
        (string manifestDigest, long manifestSize) = Blob(blobs, Encoding.UTF8.GetBytes(manifest));
        string platform = platformInIndex ? $",\"platform\":{{\"architecture\":\"{architecture}\",\"os\":\"linux\"}}" : "";
        File.WriteAllText(Path.Combine(dir, "index.json"), $"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{manifestDigest}\",\"size\":{manifestSize}{platform},\"annotations\":{{\"org.opencontainers.image.ref.name\":\"{tag}\"}}}}]}}");
        return manifestDigest;
    }

    /// <summary>An OCI archive: the layout folder as a tar, as <c>skopeo copy ... oci-archive:</c> writes it.</summary>
    public static void Archive(string layoutDir, string archivePath) => TarFile.CreateFromDirectory(layoutDir, archivePath, includeBaseDirectory: false);

    public static string Digest(byte[] bytes) => "sha256:" + Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    public static string DigestOfFile(string path)
    {
        using FileStream s = File.OpenRead(path);
        return "sha256:" + Convert.ToHexString(SHA256.HashData(s)).ToLowerInvariant();
    }

    /// <summary>
    /// The layout's image given a config as a base image has one: <paramref name="containerConfig"/> as its
    /// <c>config</c> and <paramref name="history"/> as its <c>history</c> (JSON texts); the index then names the new
    /// manifest, whose digest is returned.
    /// </summary>
    public static string WithConfig(string layout, string manifestDigest, string containerConfig, string history)
    {
        string blobs = Path.Combine(layout, "blobs", "sha256");
        var manifest = Newtonsoft.Json.Linq.JObject.Parse(File.ReadAllText(Path.Combine(blobs, manifestDigest[7..])));
        var config = Newtonsoft.Json.Linq.JObject.Parse(File.ReadAllText(Path.Combine(blobs, ((string)manifest["config"]!["digest"]!)[7..])));
        config["config"] = Newtonsoft.Json.Linq.JObject.Parse(containerConfig);
        config["history"] = Newtonsoft.Json.Linq.JArray.Parse(history);
        (string configDigest, long configSize) = Blob(blobs, Encoding.UTF8.GetBytes(config.ToString(Newtonsoft.Json.Formatting.None)));
        manifest["config"]!["digest"] = configDigest;
        manifest["config"]!["size"] = configSize;
        (string digest, long size) = Blob(blobs, Encoding.UTF8.GetBytes(manifest.ToString(Newtonsoft.Json.Formatting.None)));
        var index = Newtonsoft.Json.Linq.JObject.Parse(File.ReadAllText(Path.Combine(layout, "index.json")));
        index["manifests"]![0]!["digest"] = digest;
        index["manifests"]![0]!["size"] = size;
        File.WriteAllText(Path.Combine(layout, "index.json"), index.ToString());
        return digest;
    }

    private static (string Digest, long Size) Blob(string blobs, byte[] bytes)
    {
        string digest = Digest(bytes);
        File.WriteAllBytes(Path.Combine(blobs, digest[7..]), bytes);
        return (digest, bytes.Length);
    }
}
