using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Interop;

namespace OciBundle.Sysroots;

/// <summary>
/// One image of an OCI image layout folder, chosen the way a runtime would: by tag (<c>org.opencontainers.image.ref.name</c>)
/// when one is given, then by platform (linux and the bundle's architecture) through any nested index. Every blob read
/// is checked against the digest that names it; the image's digest is its manifest's.
/// </summary>
internal sealed class OciImage
{
    private const int MaxDocumentBytes = 4 << 20;

    private OciImage(string layout, string digest, string architecture, IReadOnlyList<(string Digest, string Path)> layers, IReadOnlyList<string> diffIds, IReadOnlyList<string> documents)
    {
        Layout = layout;
        Digest = digest;
        Architecture = architecture;
        Layers = layers;
        DiffIds = diffIds;
        Documents = documents;
    }

    public string Layout { get; }

    /// <summary>The manifest's digest, as <c>skopeo inspect</c> shows it: what OciBundleSysrootDigest pins.</summary>
    public string Digest { get; }

    /// <summary>The architecture the image config names (GOARCH).</summary>
    public string Architecture { get; }

    /// <summary>The layer blobs, base first.</summary>
    public IReadOnlyList<(string Digest, string Path)> Layers { get; }

    /// <summary>
    /// The config's <c>rootfs.diff_ids</c>, as written: the digest of each layer's uncompressed tar, base first (checked
    /// against the layers as they are unpacked; a config of another shape gives an empty list, which no layer matches).
    /// </summary>
    public IReadOnlyList<string> DiffIds { get; }

    /// <summary>The files read to choose the image (index.json, nested indexes, the manifest, the config): inputs of the plan.</summary>
    public IReadOnlyList<string> Documents { get; }

    /// <param name="layout">The layout folder.</param>
    /// <param name="tag">The tag asked for, or null.</param>
    /// <param name="goArch">The bundle's architecture.</param>
    /// <param name="source">How errors name the sysroot.</param>
    public static OciImage Open(string layout, string? tag, string goArch, string source)
    {
        var documents = new List<string>();
        string indexPath = Path.Combine(layout, "index.json");
        documents.Add(indexPath);
        JObject index = ReadJson(indexPath, null, source);
        JArray manifests = index["manifests"] as JArray ?? throw Unreadable(source, "index.json has no manifests");
        List<JObject> candidates = manifests.OfType<JObject>().ToList();
        if (tag is not null)
        {
            var tagged = candidates.Where(m => (string?)m["annotations"]?["org.opencontainers.image.ref.name"] == tag).ToList();
            if (tagged.Count == 0)
            {
                string tags = string.Join(", ", candidates.Select(m => (string?)m["annotations"]?["org.opencontainers.image.ref.name"]).OfType<string>().DefaultIfEmpty("no tags"));
                throw new OciBundleException(Strings.SysrootTagNotFound, layout, tag, tags);
            }

            candidates = tagged;
        }

        for (int depth = 0; depth < 4; depth++)
        {
            JObject chosen = Choose(candidates, goArch, source);
            string digest = (string?)chosen["digest"] ?? throw Unreadable(source, "a descriptor without a digest");
            string blob = BlobPath(layout, digest, source);
            documents.Add(blob);
            JObject document = ReadJson(blob, digest, source);
            string mediaType = (string?)document["mediaType"] ?? (string?)chosen["mediaType"] ?? "";
            if (document["manifests"] is JArray nested)
            {
                candidates = nested.OfType<JObject>().ToList();
                continue;
            }

            if (document["layers"] is not JArray layers || document["config"] is not JObject configDescriptor)
            {
                throw Unreadable(source, $"{digest} ({mediaType}) is neither an image index nor a manifest");
            }

            string configDigest = (string?)configDescriptor["digest"] ?? throw Unreadable(source, "a config without a digest");
            string configPath = BlobPath(layout, configDigest, source);
            documents.Add(configPath);
            JObject config = ReadJson(configPath, configDigest, source);
            var layerBlobs = layers.OfType<JObject>()
                .Select(l => (string?)l["digest"] ?? throw Unreadable(source, "a layer without a digest"))
                .Select(d => (d, BlobPath(layout, d, source)))
                .ToList();
            if (layerBlobs.FirstOrDefault(l => !File.Exists(l.Item2)) is { Item2: not null } missing)
            {
                throw Unreadable(source, $"the layer blob {missing.Item2} is missing (a layout copied in part, or a foreign layer)");
            }

            var diffIds = ((config["rootfs"] as JObject)?["diff_ids"] as JArray ?? new JArray()).Select(d => d is JValue { Type: JTokenType.String } v ? (string)v! : "").ToList();
            return new OciImage(layout, digest, (string?)config["architecture"] ?? "", layerBlobs, diffIds, documents);
        }

        throw Unreadable(source, "image indexes nested deeper than 4");
    }

    /// <summary>The one descriptor to follow: the only one, or the one for linux and the architecture (<paramref name="missing"/>, or OCIB1305, when there is none).</summary>
    internal static JObject Choose(List<JObject> candidates, string goArch, string source, Diagnostic? missing = null)
    {
        if (candidates.Count == 0)
        {
            throw Unreadable(source, "an image index with no manifests");
        }

        var withPlatform = candidates.Where(c => c["platform"] is JObject).ToList();
        if (withPlatform.Count == 0)
        {
            if (candidates.Count == 1)
            {
                return candidates[0];
            }

            throw Unreadable(source, $"{candidates.Count} images without platforms or tags: name one as 'folder:tag'");
        }

        // Attestations ("unknown/unknown") and other systems are never a sysroot.
        JObject? match = withPlatform.FirstOrDefault(c => (string?)c["platform"]!["os"] == "linux" && (string?)c["platform"]!["architecture"] == goArch);
        if (match is null)
        {
            string platforms = string.Join(", ", withPlatform.Select(c => $"{c["platform"]!["os"]}/{c["platform"]!["architecture"]}{((string?)c["platform"]!["variant"] is { } v ? "/" + v : "")}").Distinct());
            throw new OciBundleException(missing ?? Strings.SysrootPlatformNotFound, source, goArch, platforms);
        }

        return match;
    }

    /// <summary>Where a blob lives; a digest that is not sha256 and 64 hex digits names no file (no path is made of it).</summary>
    public static string BlobPath(string layout, string digest, string source)
    {
        if (!Request.SysrootSpec.IsDigest(digest))
        {
            throw Unreadable(source, $"'{digest}' is not a sha256 digest");
        }

        return Path.Combine(layout, "blobs", "sha256", digest[7..]);
    }

    /// <summary>
    /// A blob or index opened for reading, which must be a regular file (a link to one is followed): a device, a FIFO
    /// or a folder at a blob's name would never end (/dev/zero) or block (a FIFO), so it is refused before a byte is read.
    /// </summary>
    public static FileStream OpenBlob(string path, string source)
    {
        int fd = NativeMethods.Open(path, NativeMethods.O_RDONLY | NativeMethods.O_CLOEXEC | NativeMethods.O_NONBLOCK, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw Unreadable(source, errno == NativeMethods.ENOENT ? $"{path} is missing" : $"{path} cannot be opened: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (NativeMethods.FStat(fd) is not { } s || (s.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG)
        {
            handle.Dispose();
            throw Unreadable(source, $"{path} is not a regular file");
        }

        return new FileStream(handle, FileAccess.Read, 1);
    }

    private static JObject ReadJson(string path, string? digest, string source)
    {
        byte[] bytes;
        try
        {
            using FileStream stream = OpenBlob(path, source);
            if (stream.Length > MaxDocumentBytes)
            {
                throw Unreadable(source, $"{path} is larger than a manifest can be");
            }

            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(source, e.Message);
        }

        if (digest is not null && "sha256:" + Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant() != digest)
        {
            throw new OciBundleException(Strings.SysrootBlobCorrupt, source, path, digest);
        }

        try
        {
            return JObject.Parse(System.Text.Encoding.UTF8.GetString(bytes));
        }
        catch (Newtonsoft.Json.JsonException e)
        {
            throw Unreadable(source, $"{Path.GetFileName(path)} is not JSON: {e.Message}");
        }
    }

    private static OciBundleException Unreadable(string source, string why) => new(Strings.SysrootUnreadable, source, why);
}
