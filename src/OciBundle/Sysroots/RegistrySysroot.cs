using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Model;
using OciBundle.Model.Oci;
using OciBundle.Registries;
using OciBundle.Request;

namespace OciBundle.Sysroots;

/// <summary>
/// <c>OciBundleSysroot=docker://...</c> made a folder: the image's manifest for the platform, found through any image
/// index as for a layout (<see cref="OciImage.Choose"/>), pulled with the push's client into a layout in the cache
/// entry's staging folder and unpacked from there as a layout is (<see cref="ImageLayers"/>: every blob's digest and
/// every layer's <c>diff_id</c>); the entry is the manifest's digest, so the same image from a layout, an archive or a
/// registry is unpacked once. The documents read on the way (indexes, manifests) are kept by digest in the cache
/// (<c>.manifests/</c>), checked by their hash when read again: a pinned reference whose entry is there is used with no
/// network at all. A tag is resolved whenever the planner runs (the publish is out of date); what it named is kept
/// (<c>.tags/</c>) only to tell the user, when the registry cannot be reached, which digest to pin.
/// </summary>
internal static class RegistrySysroot
{
    private const string DocumentsFolder = ".manifests";
    private const string TagsFolder = ".tags";
    private const int Parallel = 3;

    private static readonly string[] IndexMediaTypes = { "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json" };

    /// <param name="spec">A checked <c>docker://</c> sysroot.</param>
    /// <param name="arch">The bundle's architecture.</param>
    /// <param name="log">Low-importance lines.</param>
    /// <param name="cancel">The build's cancellation.</param>
    /// <param name="environment">Where credentials are looked for; null: the process's environment.</param>
    /// <param name="handler">For tests; null: the client's own.</param>
    public static MaterializedSysroot Materialize(SysrootSpec spec, TargetArchitecture arch, Action<string> log, CancellationToken cancel, Func<string, string?>? environment = null, HttpMessageHandler? handler = null)
    {
        ImageReference reference = spec.Reference!;
        string cache = spec.CacheDirectory!;
        string source = spec.Path;
        var clock = Stopwatch.StartNew();
        var puller = new Lazy<ImagePuller>(() => new ImagePuller(reference, spec.PlainHttp, source, environment ?? Environment.GetEnvironmentVariable, log, cancel, handler) { CacheState = CacheState(cache, spec) });
        try
        {
            PulledDocument? known = spec.PinnedDigest is { } pin ? Known(cache, pin) : null;
            PulledDocument top = known ?? puller.Value.Document(spec.PinnedDigest ?? reference.Tag!, spec.PinnedDigest, cancel);
            List<PulledDocument> chain = Resolve(top, arch, source, cache, puller, cancel, out string manifestDigest);
            EntryMarker marker = new SysrootUnpackCache(cache, log).Ensure(manifestDigest, source,
                stage => Fill(stage, manifestDigest, chain.FirstOrDefault(d => d.Digest == manifestDigest), arch, source, puller.Value, log, cancel));
            foreach (PulledDocument document in chain)
            {
                Remember(Path.Combine(cache, DocumentsFolder, OciDigest.Hex(document.Digest)), document.Content);
            }

            if (spec.PinnedDigest is null)
            {
                Remember(TagRecord(cache, reference), Encoding.UTF8.GetBytes(top.Digest + "\n"));
            }

            SysrootStore.CheckArchitecture(source, arch, marker.Architecture);
            string resolved = $"docker://{reference.Name}@{top.Digest}";
            log($"Sysroot {source}: {resolved}, image {manifestDigest} ({marker.Architecture}), {(puller.IsValueCreated ? "resolved at the registry" : "from the cache with no network")}, in {clock.ElapsedMilliseconds} ms.");
            return new MaterializedSysroot(new SysrootUnpackCache(cache, log).RootOf(manifestDigest), manifestDigest, resolved, "registry") { BaseName = reference.Name };
        }
        finally
        {
            if (puller.IsValueCreated)
            {
                puller.Value.Dispose();
            }
        }
    }

    /// <summary>The manifest for the platform: <paramref name="top"/> when it is one, else the one chosen through its indexes (read from the cache by digest when kept there).</summary>
    private static List<PulledDocument> Resolve(PulledDocument top, TargetArchitecture arch, string source, string cache, Lazy<ImagePuller> puller, CancellationToken cancel, out string manifestDigest)
    {
        var chain = new List<PulledDocument> { top };
        PulledDocument document = top;
        for (int depth = 0; depth < 4; depth++)
        {
            if (Parse(document, source)["manifests"] is not JArray)
            {
                manifestDigest = document.Digest;
                return chain;
            }

            OciDescriptor chosen = OciImage.Choose(IndexOf(document, source).Manifests, arch.GoArch, source, Strings.SysrootRegistryPlatformNotFound);
            string digest = SysrootSpec.IsDigest(chosen.Digest) ? chosen.Digest : throw Unreadable(source, $"the index {document.Digest} names a manifest without a sha256 digest");
            if (!IndexMediaTypes.Contains(chosen.MediaType, StringComparer.Ordinal))
            {
                manifestDigest = digest;
                return chain;
            }

            document = Known(cache, digest) ?? puller.Value.Document(digest, digest, cancel);
            chain.Add(document);
        }

        throw Unreadable(source, "image indexes nested deeper than 4");
    }

    /// <summary>Pulls the manifest, its config and layers into a layout in <paramref name="stage"/>, then unpacks it into <c>rootfs</c> as a layout is.</summary>
    private static (string Digest, string Architecture) Fill(string stage, string manifestDigest, PulledDocument? had, TargetArchitecture arch, string source, ImagePuller puller, Action<string> log, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        string layout = Path.Combine(stage, "layout");
        string blobs = Path.Combine(layout, "blobs", "sha256");
        Directory.CreateDirectory(blobs);
        PulledDocument manifest = had ?? puller.Document(manifestDigest, manifestDigest, cancel);
        JObject json = Parse(manifest, source);
        if (json["config"] is not JObject config || json["layers"] is not JArray layers)
        {
            throw Unreadable(source, $"{manifestDigest} ({manifest.MediaType}) is not an image manifest");
        }

        var wanted = new[] { config }.Concat(layers.OfType<JObject>()).Select(d => Descriptor(d, source)).DistinctBy(d => d.Digest).ToList();
        if (wanted[0].Size > ImagePuller.MaxDocumentBytes)
        {
            throw Unreadable(source, string.Create(CultureInfo.InvariantCulture, $"its config is declared {wanted[0].Size} bytes, larger than a config can be"));
        }

        File.WriteAllBytes(Path.Combine(blobs, OciDigest.Hex(manifestDigest)), manifest.Content);
        System.Threading.Tasks.Parallel.ForEachAsync(wanted, new ParallelOptions { MaxDegreeOfParallelism = Parallel, CancellationToken = cancel },
            async (blob, token) => await puller.BlobAsync(blob.Digest, blob.Size, Path.Combine(blobs, OciDigest.Hex(blob.Digest)), token).ConfigureAwait(false)).GetAwaiter().GetResult();
        log(string.Create(CultureInfo.InvariantCulture, $"Sysroot {source}: pulled {wanted.Count} blobs ({wanted.Sum(b => b.Size) / 1048576.0:F1} MB) in {clock.ElapsedMilliseconds} ms."));

        File.WriteAllText(Path.Combine(layout, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        var index = new JObject
        {
            ["schemaVersion"] = 2,
            ["manifests"] = new JArray(new JObject { ["mediaType"] = manifest.MediaType, ["digest"] = manifestDigest, ["size"] = manifest.Content.Length }),
        };
        File.WriteAllText(Path.Combine(layout, "index.json"), index.ToString(Formatting.None));
        OciImage image = OciImage.Open(layout, null, arch.GoArch, source);
        SysrootStore.CheckArchitecture(source, arch, image.Architecture);
        ImageLayers.Apply(image, Path.Combine(stage, "rootfs"), source, log);
        return (image.Digest, image.Architecture); // the layout stays: its blobs are the layers of an image built on this one (OciImageBase)
    }

    private static (string Digest, long Size) Descriptor(JObject descriptor, string source) =>
        descriptor["digest"] is JValue { Value: string digest } && SysrootSpec.IsDigest(digest) && descriptor["size"] is JValue { Value: long size } && size >= 0
            ? (digest, size)
            : throw Unreadable(source, $"its manifest has a descriptor without a sha256 digest and a size: {Shorten(descriptor.ToString(Formatting.None))}");

    /// <summary>An index read as the typed document (every descriptor with its media type, digest and size).</summary>
    private static OciIndex IndexOf(PulledDocument document, string source)
    {
        try
        {
            return OciJson.DeserializeImage(document.Content).Index ?? throw Unreadable(source, $"the index {document.Digest} is not an image index");
        }
        catch (JsonException e)
        {
            throw Unreadable(source, $"the index {document.Digest} cannot be read: {e.Message}");
        }
    }

    private static JObject Parse(PulledDocument document, string source)
    {
        try
        {
            return JObject.Parse(Encoding.UTF8.GetString(document.Content));
        }
        catch (JsonException e)
        {
            throw Unreadable(source, $"{document.Digest} is not a JSON object: {e.Message}");
        }
    }

    /// <summary>A document kept by digest in the cache, when its bytes still have that digest (else as if not kept).</summary>
    private static PulledDocument? Known(string cache, string digest)
    {
        try
        {
            string path = Path.Combine(cache, DocumentsFolder, OciDigest.Hex(digest));
            var info = new FileInfo(path);
            if (!info.Exists || info.Length > ImagePuller.MaxDocumentBytes || (info.Attributes & FileAttributes.ReparsePoint) != 0)
            {
                return null;
            }

            byte[] content = File.ReadAllBytes(path);
            if ("sha256:" + Convert.ToHexString(SHA256.HashData(content)).ToLowerInvariant() != digest)
            {
                return null;
            }

            return new PulledDocument(digest, JObject.Parse(Encoding.UTF8.GetString(content))["mediaType"] is JValue { Value: string type } ? type : "", content);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Writes a record in one step (a temporary file renamed over it); only a shortcut or a hint, so a failure is ignored.</summary>
    private static void Remember(string path, byte[] content)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            string temp = $"{path}.tmp-{Guid.NewGuid():N}";
            File.WriteAllBytes(temp, content);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static string TagRecord(string cache, ImageReference reference) =>
        Path.Combine(cache, TagsFolder, Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(reference.Name))).ToLowerInvariant());

    /// <summary>What the cache holds for this reference, for the error of a registry that cannot be reached.</summary>
    private static string CacheState(string cache, SysrootSpec spec)
    {
        if (spec.PinnedDigest is { } pin)
        {
            return $"The pin {pin} is not in the sysroot cache {cache} for this platform yet (or its entry is damaged): a pinned build needs one pull while the registry can be reached, and works offline after it.";
        }

        string? last = null;
        try
        {
            last = File.ReadAllText(TagRecord(cache, spec.Reference!)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        string name = spec.Reference!.Name;
        return last is not null && SysrootSpec.IsDigest(last)
            ? $"A tag is resolved at the registry on every publish that is out of date; the sysroot cache {cache} holds what {name} named on its last pull, {last}: pin a digest to build offline (docker://{name}@{last}, or OciBundleSysrootDigest={last})."
            : $"A tag is resolved at the registry on every publish that is out of date, and the sysroot cache {cache} holds no pull of {name}: pin a digest to build offline, once one pull has filled the cache.";
    }

    private static OciBundleException Unreadable(string source, string why) => new(Strings.SysrootUnreadable, source, why);

    private static string Shorten(string text) => text.Length > 200 ? text[..200] + "..." : text;
}
