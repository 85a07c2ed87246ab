using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Outputs;

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
            string blobs = Path.Combine(staged.StagingPath, "blobs", "sha256");
            System.IO.Directory.CreateDirectory(blobs);
            var manifests = new JArray();
            foreach (string source in request.Sources)
            {
                JObject index = JObject.Parse(File.ReadAllText(Path.Combine(source, "index.json")));
                if (index["manifests"] is not JArray { Count: 1 } entries || (string?)entries[0]!["mediaType"] != ImageLayoutWriter.ManifestMediaType)
                {
                    throw new OciBundleException(Strings.LayoutUnreadable, source, "it is not a single-architecture layout of this product");
                }

                JObject descriptor = (JObject)entries[0]!.DeepClone();
                descriptor.Remove("annotations");
                JObject platform = (JObject?)descriptor["platform"] ?? throw new OciBundleException(Strings.LayoutUnreadable, source, "its manifest has no platform");
                if (Variant((string?)platform["architecture"]) is { } variant)
                {
                    platform["variant"] = variant;
                }

                if (manifests.Any(m => JToken.DeepEquals(m["platform"], platform)))
                {
                    throw new OciBundleException(Strings.LayoutUnreadable, source, $"a second image for {platform["os"]}/{platform["architecture"]}: list each RuntimeIdentifier once in OciImageRuntimeIdentifiers");
                }

                manifests.Add(descriptor);
                foreach (string blob in System.IO.Directory.EnumerateFiles(Path.Combine(source, "blobs", "sha256")))
                {
                    string target = Path.Combine(blobs, Path.GetFileName(blob));
                    if (!File.Exists(target) && NativeMethods.link(blob, target) != 0)
                    {
                        File.Copy(blob, target); // another file system: a copy
                    }
                }
            }

            var imageIndex = new JObject
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = ImageLayoutWriter.IndexMediaType,
                ["manifests"] = manifests,
            };
            byte[] content = new UTF8Encoding(false).GetBytes(imageIndex.ToString(Formatting.None));
            string hex = Convert.ToHexString(SHA256.HashData(content)).ToLowerInvariant();
            File.WriteAllBytes(Path.Combine(blobs, hex), content);
            var top = new JObject
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = ImageLayoutWriter.IndexMediaType,
                ["manifests"] = new JArray(new JObject
                {
                    ["mediaType"] = ImageLayoutWriter.IndexMediaType,
                    ["digest"] = "sha256:" + hex,
                    ["size"] = content.Length,
                    ["annotations"] = new JObject
                    {
                        ["io.containerd.image.name"] = request.Name,
                        ["org.opencontainers.image.ref.name"] = request.Tag,
                    },
                }),
            };
            File.WriteAllBytes(Path.Combine(staged.StagingPath, "index.json"), new UTF8Encoding(false).GetBytes(top.ToString(Formatting.None)));
            File.WriteAllBytes(Path.Combine(staged.StagingPath, "oci-layout"), new UTF8Encoding(false).GetBytes(new JObject { ["imageLayoutVersion"] = "1.0.0" }.ToString(Formatting.None)));
            File.WriteAllBytes(Path.Combine(staged.StagingPath, OutputFolder.MarkerName), OutputFolder.Marker(OutputKind.Image));
            staged.Commit();
            return "sha256:" + hex;
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

    /// <summary>The platform variant engines match for an architecture (image-spec's platform variants).</summary>
    internal static string? Variant(string? goArch) => goArch switch
    {
        "arm64" => "v8",
        "arm" => "v7",
        _ => null,
    };
}
