using Newtonsoft.Json;

namespace OciBundle.Model.Oci;

/// <summary>An image configuration (image-spec <c>config.md</c>), in the order this product writes its fields.</summary>
internal sealed record OciImageConfig
{
    [JsonProperty("created", Order = 1)]
    public string? Created { get; init; }

    [JsonProperty("architecture", Order = 2)]
    public string? Architecture { get; init; }

    [JsonProperty("os", Order = 3)]
    public string? Os { get; init; }

    [JsonProperty("config", Order = 4)]
    public OciContainerConfig? Config { get; init; }

    [JsonProperty("rootfs", Order = 5)]
    public OciRootFs? RootFs { get; init; }

    [JsonProperty("history", Order = 6)]
    public IReadOnlyList<OciHistory>? History { get; init; }
}

/// <summary>The execution parameters of an image config's <c>config</c>: what an engine runs and how.</summary>
internal sealed record OciContainerConfig
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
}

/// <summary>The <c>{}</c> of a set written as an object's keys (<c>ExposedPorts</c>, <c>Volumes</c>).</summary>
internal sealed record OciEmptyObject
{
    public static readonly OciEmptyObject Instance = new();
}

/// <summary>The layers' uncompressed digests, base first.</summary>
internal sealed record OciRootFs
{
    [JsonProperty("type", Order = 1)]
    public string? Type { get; init; }

    [JsonProperty("diff_ids", Order = 2)]
    public IReadOnlyList<string>? DiffIds { get; init; }
}

/// <summary>One step of an image's history.</summary>
internal sealed record OciHistory
{
    [JsonProperty("created", Order = 1)]
    public string? Created { get; init; }

    [JsonProperty("created_by", Order = 2)]
    public string? CreatedBy { get; init; }
}
