using System.Text;
using Newtonsoft.Json;

namespace OciBundle.Model.Oci;

/// <summary>
/// The one way OCI documents become bytes and back. Written compact (no whitespace), UTF-8 without a BOM, fields in
/// the order the types declare, absent values left out: the same inputs give the same bytes, so the same digests.
/// Read as strictly: the fields the types require, the types they declare, nothing after the document, no date
/// guessing (a <c>created</c> stays the text it is).
/// </summary>
internal static class OciJson
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private static readonly JsonSerializer Serializer = JsonSerializer.Create(new JsonSerializerSettings
    {
        NullValueHandling = NullValueHandling.Ignore,
        DateParseHandling = DateParseHandling.None,
        CheckAdditionalContent = true,
        MaxDepth = 64,
    });

    public static byte[] Serialize(object document)
    {
        using var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using (var writer = new JsonTextWriter(text) { Formatting = Formatting.None })
        {
            Serializer.Serialize(writer, document);
        }

        return Utf8.GetBytes(text.ToString());
    }

    /// <summary>A document of <typeparamref name="T"/>; a <see cref="JsonException"/> when the bytes are not one.</summary>
    public static T Deserialize<T>(byte[] content)
        where T : class
    {
        using var reader = new JsonTextReader(new StringReader(Utf8.GetString(content)));
        return Serializer.Deserialize<T>(reader) ?? throw new JsonSerializationException($"null is not a {typeof(T).Name}");
    }

    /// <summary>
    /// A manifest or an image index, told apart as a reader of either must (the media type may be absent): an index
    /// has <c>manifests</c>, a manifest <c>config</c> and <c>layers</c>. Null when it is neither.
    /// </summary>
    public static (OciIndex? Index, OciManifest? Manifest) DeserializeImage(byte[] content)
    {
        ImageDocument document = Deserialize<ImageDocument>(content);
        if (document.Manifests is { } manifests)
        {
            return (new OciIndex { SchemaVersion = document.SchemaVersion, MediaType = document.MediaType, Manifests = manifests, Annotations = document.Annotations }, null);
        }

        return document is { Config: { } config, Layers: { } layers }
            ? (null, new OciManifest { SchemaVersion = document.SchemaVersion, MediaType = document.MediaType, Config = config, Layers = layers, Annotations = document.Annotations })
            : (null, null);
    }

    /// <summary>What a manifest and an index have in common, read before knowing which it is.</summary>
    private sealed record ImageDocument
    {
        [JsonProperty("schemaVersion")]
        public int SchemaVersion { get; init; }

        [JsonProperty("mediaType")]
        public string? MediaType { get; init; }

        [JsonProperty("manifests")]
        public IReadOnlyList<OciDescriptor>? Manifests { get; init; }

        [JsonProperty("config")]
        public OciDescriptor? Config { get; init; }

        [JsonProperty("layers")]
        public IReadOnlyList<OciDescriptor>? Layers { get; init; }

        [JsonProperty("annotations")]
        public IReadOnlyDictionary<string, string>? Annotations { get; init; }
    }
}
