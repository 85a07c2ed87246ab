using Newtonsoft.Json;

namespace OciBundle.Model.Oci;

/// <summary>An image manifest (image-spec <c>manifest.md</c>): the config and the layers, base first.</summary>
internal sealed record OciManifest
{
    [JsonProperty("schemaVersion", Order = 1)]
    public int SchemaVersion { get; init; }

    [JsonProperty("mediaType", Order = 2)]
    public string? MediaType { get; init; }

    [JsonProperty("config", Order = 3, Required = Required.Always)]
    public required OciDescriptor Config { get; init; }

    [JsonProperty("layers", Order = 4, Required = Required.Always)]
    public required IReadOnlyList<OciDescriptor> Layers { get; init; }

    [JsonProperty("annotations", Order = 5)]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
}

/// <summary>An image index (image-spec <c>image-index.md</c>), and an image layout's <c>index.json</c>.</summary>
internal sealed record OciIndex
{
    [JsonProperty("schemaVersion", Order = 1)]
    public int SchemaVersion { get; init; }

    [JsonProperty("mediaType", Order = 2)]
    public string? MediaType { get; init; }

    [JsonProperty("manifests", Order = 3, Required = Required.Always)]
    public required IReadOnlyList<OciDescriptor> Manifests { get; init; }

    [JsonProperty("annotations", Order = 4)]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
}

/// <summary>An image layout's <c>oci-layout</c> file (image-spec <c>image-layout.md</c>).</summary>
internal sealed record OciLayoutFile
{
    [JsonProperty("imageLayoutVersion", Required = Required.Always)]
    public string ImageLayoutVersion { get; init; } = OciMediaTypes.LayoutVersion;
}
