using Newtonsoft.Json;

namespace OciBundle.Model.Oci;

/// <summary>An image configuration (image-spec <c>config.md</c>), in the order this product writes its fields.</summary>
internal sealed record OciImageConfig : IOciDocument
{
    [JsonProperty("created", Order = 1)]
    public string? Created { get; init; }

    [JsonProperty("architecture", Order = 2)]
    public string? Architecture { get; init; }

    /// <summary>The CPU's variant (<c>v8</c> of arm64): a base image's, carried; null without one.</summary>
    [JsonProperty("variant", Order = 3)]
    public string? Variant { get; init; }

    [JsonProperty("os", Order = 4)]
    public string? Os { get; init; }

    /// <summary>The OS's version a base image names (Windows uses it), carried; null without one.</summary>
    [JsonProperty("os.version", Order = 5)]
    public string? OsVersion { get; init; }

    /// <summary>The OS features a base image requires, carried; null without one.</summary>
    [JsonProperty("os.features", Order = 6)]
    public IReadOnlyList<string>? OsFeatures { get; init; }

    [JsonProperty("config", Order = 7)]
    public OciContainerConfig? Config { get; init; }

    [JsonProperty("rootfs", Order = 8)]
    public OciRootFs? RootFs { get; init; }

    [JsonProperty("history", Order = 9)]
    public IReadOnlyList<OciHistory>? History { get; init; }

    public void Write(JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.Text("created", Created);
        writer.Text("architecture", Architecture);
        writer.Text("variant", Variant);
        writer.Text("os", Os);
        writer.Text("os.version", OsVersion);
        writer.Texts("os.features", OsFeatures);
        writer.Document("config", Config);
        writer.Document("rootfs", RootFs);
        writer.Documents("history", History);
        writer.WriteEndObject();
    }
}

/// <summary>The execution parameters of an image config's <c>config</c>: what an engine runs and how.</summary>
internal sealed record OciContainerConfig : IOciDocument
{
    [JsonProperty("User", Order = 1)]
    public string? User { get; init; }

    [JsonProperty("Env", Order = 2)]
    public IReadOnlyList<string>? Env { get; init; }

    [JsonProperty("Entrypoint", Order = 3)]
    public IReadOnlyList<string>? Entrypoint { get; init; }

    [JsonProperty("WorkingDir", Order = 4)]
    public string? WorkingDir { get; init; }

    /// <summary>The arguments an engine appends to the entry point when the run gives none; null (not empty) for none.</summary>
    [JsonProperty("Cmd", Order = 5)]
    public IReadOnlyList<string>? Cmd { get; init; }

    /// <summary>Ports as <c>8080/tcp</c>, each an empty object, as the spec has it; null for none.</summary>
    [JsonProperty("ExposedPorts", Order = 6)]
    public IReadOnlyDictionary<string, OciEmptyObject>? ExposedPorts { get; init; }

    /// <summary>Folders an engine gives a volume of its own (<c>/data</c>), each an empty object; null for none.</summary>
    [JsonProperty("Volumes", Order = 7)]
    public IReadOnlyDictionary<string, OciEmptyObject>? Volumes { get; init; }

    [JsonProperty("Labels", Order = 8)]
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>The signal an engine stops the container with (<c>SIGQUIT</c>): a base image's, carried; null for the engine's default (SIGTERM).</summary>
    [JsonProperty("StopSignal", Order = 9)]
    public string? StopSignal { get; init; }

    public void Write(JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.Text("User", User);
        writer.Texts("Env", Env);
        writer.Texts("Entrypoint", Entrypoint);
        writer.Text("WorkingDir", WorkingDir);
        writer.Texts("Cmd", Cmd);
        writer.Keys("ExposedPorts", ExposedPorts);
        writer.Keys("Volumes", Volumes);
        writer.Map("Labels", Labels);
        writer.Text("StopSignal", StopSignal);
        writer.WriteEndObject();
    }
}

/// <summary>The <c>{}</c> of a set written as an object's keys (<c>ExposedPorts</c>, <c>Volumes</c>).</summary>
internal sealed record OciEmptyObject
{
    public static readonly OciEmptyObject Instance = new();
}

/// <summary>The layers' uncompressed digests, base first.</summary>
internal sealed record OciRootFs : IOciDocument
{
    [JsonProperty("type", Order = 1)]
    public string? Type { get; init; }

    [JsonProperty("diff_ids", Order = 2)]
    public IReadOnlyList<string>? DiffIds { get; init; }

    public void Write(JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.Text("type", Type);
        writer.Texts("diff_ids", DiffIds);
        writer.WriteEndObject();
    }
}

/// <summary>
/// One step of an image's history, every field the spec has. An <c>empty_layer</c> step made no layer (an <c>ENV</c>,
/// a <c>CMD</c>): the steps without it are as many as the layers, and in their order.
/// </summary>
internal sealed record OciHistory : IOciDocument
{
    [JsonProperty("created", Order = 1)]
    public string? Created { get; init; }

    [JsonProperty("author", Order = 2)]
    public string? Author { get; init; }

    [JsonProperty("created_by", Order = 3)]
    public string? CreatedBy { get; init; }

    [JsonProperty("comment", Order = 4)]
    public string? Comment { get; init; }

    /// <summary>True for a step that made no layer; null (omitted) for one that did.</summary>
    [JsonProperty("empty_layer", Order = 5)]
    public bool? EmptyLayer { get; init; }

    public void Write(JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.Text("created", Created);
        writer.Text("author", Author);
        writer.Text("created_by", CreatedBy);
        writer.Text("comment", Comment);
        if (EmptyLayer is { } empty)
        {
            writer.WritePropertyName("empty_layer");
            writer.WriteValue(empty);
        }
        writer.WriteEndObject();
    }
}
