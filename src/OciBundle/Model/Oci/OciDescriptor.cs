using Newtonsoft.Json;

namespace OciBundle.Model.Oci;

/// <summary>
/// A content descriptor (image-spec <c>descriptor.md</c>): what a blob is, its digest and size, and for an index's
/// entries the platform it is for. Written in this order, absent values left out.
/// </summary>
internal sealed record OciDescriptor : IOciDocument
{
    [JsonProperty("mediaType", Order = 1, Required = Required.Always)]
    public required string MediaType { get; init; }

    [JsonProperty("digest", Order = 2, Required = Required.Always)]
    public required string Digest { get; init; }

    [JsonProperty("size", Order = 3, Required = Required.Always)]
    public required long Size { get; init; }

    [JsonProperty("platform", Order = 4)]
    public OciPlatform? Platform { get; init; }

    [JsonProperty("annotations", Order = 5)]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    /// <summary>The tag an image layout gives it (<c>org.opencontainers.image.ref.name</c>), or null.</summary>
    [JsonIgnore]
    public string? RefName => Annotations?.GetValueOrDefault(OciAnnotationKeys.RefName);

    public void Write(JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.Text("mediaType", MediaType);
        writer.Text("digest", Digest);
        writer.Number("size", Size);
        writer.Document("platform", Platform);
        writer.Map("annotations", Annotations);
        writer.WriteEndObject();
    }
}

/// <summary>The platform of an index's entry (image-spec <c>image-index.md</c>).</summary>
internal sealed record OciPlatform : IOciDocument
{
    [JsonProperty("architecture", Order = 1, Required = Required.Always)]
    public required string Architecture { get; init; }

    [JsonProperty("os", Order = 2, Required = Required.Always)]
    public required string Os { get; init; }

    [JsonProperty("os.version", Order = 3)]
    public string? OsVersion { get; init; }

    [JsonProperty("variant", Order = 4)]
    public string? Variant { get; init; }

    /// <summary><c>os/architecture[/variant]</c>, for messages.</summary>
    public override string ToString() => $"{Os}/{Architecture}{(Variant is null ? "" : "/" + Variant)}";

    public void Write(JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.Text("architecture", Architecture);
        writer.Text("os", Os);
        writer.Text("os.version", OsVersion);
        writer.Text("variant", Variant);
        writer.WriteEndObject();
    }
}

/// <summary>The annotation keys this product writes or reads.</summary>
internal static class OciAnnotationKeys
{
    /// <summary>An image layout's tag of an index entry (what skopeo's <c>oci:dir:tag</c> looks up).</summary>
    public const string RefName = "org.opencontainers.image.ref.name";

    /// <summary>The image's full name, by which containerd's import and podman's oci-archive: name it (buildkit writes it).</summary>
    public const string ContainerdImageName = "io.containerd.image.name";

    public const string Created = "org.opencontainers.image.created";
}
