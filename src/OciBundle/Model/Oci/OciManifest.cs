using Newtonsoft.Json;

namespace OciBundle.Model.Oci;

/// <summary>An image manifest (image-spec <c>manifest.md</c>): the config and the layers, base first.</summary>
internal sealed record OciManifest : IOciDocument
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

    public void Write(JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.Number("schemaVersion", SchemaVersion);
        writer.Text("mediaType", MediaType);
        writer.Document("config", Config);
        writer.Documents("layers", Layers);
        writer.Map("annotations", Annotations);
        writer.WriteEndObject();
    }
}

/// <summary>An image index (image-spec <c>image-index.md</c>), and an image layout's <c>index.json</c>.</summary>
internal sealed record OciIndex : IOciDocument
{
    [JsonProperty("schemaVersion", Order = 1)]
    public int SchemaVersion { get; init; }

    [JsonProperty("mediaType", Order = 2)]
    public string? MediaType { get; init; }

    [JsonProperty("manifests", Order = 3, Required = Required.Always)]
    public required IReadOnlyList<OciDescriptor> Manifests { get; init; }

    [JsonProperty("annotations", Order = 4)]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    public void Write(JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.Number("schemaVersion", SchemaVersion);
        writer.Text("mediaType", MediaType);
        writer.Documents("manifests", Manifests);
        writer.Map("annotations", Annotations);
        writer.WriteEndObject();
    }
}

/// <summary>An image layout's <c>oci-layout</c> file (image-spec <c>image-layout.md</c>).</summary>
internal sealed record OciLayoutFile : IOciDocument
{
    [JsonProperty("imageLayoutVersion", Required = Required.Always)]
    public string ImageLayoutVersion { get; init; } = OciMediaTypes.LayoutVersion;

    public void Write(JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.Text("imageLayoutVersion", ImageLayoutVersion);
        writer.WriteEndObject();
    }
}
