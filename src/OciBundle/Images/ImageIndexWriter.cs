using Newtonsoft.Json;
using OciBundle.Diagnostics;
using OciBundle.Model.Oci;
using OciBundle.Outputs;
using OciBundle.Storage;

namespace OciBundle.Images;

/// <summary>What a multi-architecture layout is made of: the per-RID layouts the inner publishes wrote, and its name.</summary>
internal sealed record ImageIndexRequest
{
    public required string Directory { get; init; }
    public required IReadOnlyList<string> Sources { get; init; }
    public required string Tag { get; init; }
    public required string Name { get; init; }
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// Writes an OCI image layout whose <c>index.json</c> points at an image index: one manifest per architecture,
/// each with its <c>platform</c> (os, architecture, and the variant engines match on: <c>v8</c> for arm64, <c>v7</c>
/// for arm), from the single-architecture layouts of the same app. The blobs are taken as they are (hard links
/// where the file system allows), so every manifest keeps the digest its own layout has.
/// </summary>
internal static class ImageIndexWriter
{
    public static string Write(ImageIndexRequest request)
    {
        try
        {
            using var staged = new StagedDirectory(request.Directory, request.LockTimeout, OutputKind.Image);
            BlobStore store = new BlobStore(staged.StagingPath).Create();
            var manifests = new List<OciDescriptor>();
            foreach (string source in request.Sources)
            {
                OciDescriptor descriptor = ImageOf(source);
                if (manifests.Any(m => m.Platform == descriptor.Platform))
                {
                    throw new OciBundleException(Strings.LayoutUnreadable, source, $"a second image for {descriptor.Platform!.Os}/{descriptor.Platform.Architecture}: list each RuntimeIdentifier once in OciImageRuntimeIdentifiers");
                }

                manifests.Add(descriptor);
                var blobs = new BlobStore(source);
                foreach (string blob in blobs.Digests())
                {
                    store.Import(blobs, blob);
                }
            }

            (string digest, long size) = store.Put(OciJson.Serialize(new OciIndex { SchemaVersion = 2, MediaType = OciMediaTypes.ImageIndex, Manifests = manifests }));
            var top = new OciIndex
            {
                SchemaVersion = 2,
                MediaType = OciMediaTypes.ImageIndex,
                Manifests = new[]
                {
                    new OciDescriptor
                    {
                        MediaType = OciMediaTypes.ImageIndex,
                        Digest = digest,
                        Size = size,
                        Annotations = new OrderedMap { [OciAnnotationKeys.ContainerdImageName] = request.Name, [OciAnnotationKeys.RefName] = request.Tag },
                    },
                },
            };
            File.WriteAllBytes(Path.Combine(staged.StagingPath, "index.json"), OciJson.Serialize(top));
            File.WriteAllBytes(Path.Combine(staged.StagingPath, "oci-layout"), OciJson.Serialize(new OciLayoutFile()));
            File.WriteAllBytes(Path.Combine(staged.StagingPath, OutputFolder.MarkerName), OutputFolder.Marker(OutputKind.Image));
            staged.Commit();
            return digest;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.BundleWriteFailed, request.Directory, e.Message);
        }
        catch (JsonException e)
        {
            throw new OciBundleException(Strings.LayoutUnreadable, request.Directory, e.Message);
        }
    }

    /// <summary>The one manifest of a single-architecture layout this product wrote, as the index names it: its platform with the variant engines match, no annotations.</summary>
    private static OciDescriptor ImageOf(string source)
    {
        OciIndex index = OciJson.Deserialize<OciIndex>(BlobStore.ReadSmallFile(Path.Combine(source, "index.json")));
        if (index.Manifests is not { Count: 1 } entries || entries[0].MediaType != OciMediaTypes.ImageManifest)
        {
            throw new OciBundleException(Strings.LayoutUnreadable, source, "it is not a single-architecture layout of this product");
        }

        OciPlatform platform = entries[0].Platform ?? throw new OciBundleException(Strings.LayoutUnreadable, source, "its manifest has no platform");
        return entries[0] with { Platform = Variant(platform.Architecture) is { } variant ? platform with { Variant = variant } : platform, Annotations = null };
    }

    /// <summary>The platform variant engines match for an architecture (image-spec's platform variants).</summary>
    internal static string? Variant(string? goArch) => goArch switch
    {
        "arm64" => "v8",
        "arm" => "v7",
        _ => null,
    };
}
