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

    /// <summary>How documents are read (and how the serializer would write them: OciJsonTests holds the writers to it).</summary>
    internal static readonly JsonSerializerSettings Settings = new()
    {
        NullValueHandling = NullValueHandling.Ignore,
        DateParseHandling = DateParseHandling.None,
        CheckAdditionalContent = true,
        MaxDepth = 64,
    };

    private static readonly JsonSerializer Serializer = JsonSerializer.Create(Settings);

    /// <summary>
    /// The document's bytes. The documents this product writes (<see cref="IOciDocument"/>) write their own fields in
    /// their declared order, with the serializer's writer: the same bytes as the serializer, which builds its contracts
    /// by reflection and emitted code on first use, 33-58 ms of every image publish (OciJsonTests compares the two).
    /// </summary>
    public static byte[] Serialize(IOciDocument document)
    {
        using var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using (var writer = new JsonTextWriter(text) { Formatting = Formatting.None })
        {
            document.Write(writer);
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

/// <summary>A document that writes its own JSON: each field in the order its type declares, absent values left out.</summary>
internal interface IOciDocument
{
    void Write(JsonWriter writer);
}

/// <summary>The field writers of <see cref="IOciDocument"/>s: a null value is left out, as the serializer's settings have it.</summary>
internal static class JsonFields
{
    public static void Text(this JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WritePropertyName(name);
            writer.WriteValue(value);
        }
    }

    public static void Number(this JsonWriter writer, string name, long value)
    {
        writer.WritePropertyName(name);
        writer.WriteValue(value);
    }

    public static void Texts(this JsonWriter writer, string name, IEnumerable<string>? values)
    {
        if (values is not null)
        {
            writer.WritePropertyName(name);
            writer.WriteStartArray();
            foreach (string value in values)
            {
                writer.WriteValue(value);
            }

            writer.WriteEndArray();
        }
    }

    public static void Map(this JsonWriter writer, string name, IReadOnlyDictionary<string, string>? map)
    {
        if (map is not null)
        {
            writer.WritePropertyName(name);
            writer.WriteStartObject();
            foreach ((string key, string value) in map)
            {
                writer.WritePropertyName(key);
                writer.WriteValue(value);
            }

            writer.WriteEndObject();
        }
    }

    /// <summary>A set written as an object's keys, each an empty object (<c>ExposedPorts</c>, <c>Volumes</c>).</summary>
    public static void Keys<T>(this JsonWriter writer, string name, IReadOnlyDictionary<string, T>? set)
    {
        if (set is not null)
        {
            writer.WritePropertyName(name);
            writer.WriteStartObject();
            foreach (string key in set.Keys)
            {
                writer.WritePropertyName(key);
                writer.WriteStartObject();
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }
    }

    public static void Document(this JsonWriter writer, string name, IOciDocument? document)
    {
        if (document is not null)
        {
            writer.WritePropertyName(name);
            document.Write(writer);
        }
    }

    public static void Documents(this JsonWriter writer, string name, IEnumerable<IOciDocument>? documents)
    {
        if (documents is not null)
        {
            writer.WritePropertyName(name);
            writer.WriteStartArray();
            foreach (IOciDocument document in documents)
            {
                document.Write(writer);
            }

            writer.WriteEndArray();
        }
    }
}
