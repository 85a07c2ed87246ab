using OciBundle.Model.Oci;

namespace OciBundle.Images;

/// <summary>
/// How a base image's config and the project's make the image's (README, "Building on a base image"): the base's labels
/// and exposed ports are kept and the project's added, a label of the same name the project's; <c>Env</c> is merged by
/// the planner (the bundle's config.json has the same); the entry point, <c>Cmd</c>, user and working folder are the
/// project's, which always sets them.
/// </summary>
internal static class ImageConfigMerge
{
    /// <summary>The base's labels, then the project's: one of the same name replaces the base's.</summary>
    public static SortedDictionary<string, string> Labels(IReadOnlyDictionary<string, string>? baseLabels, IReadOnlyDictionary<string, string> labels)
    {
        var merged = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach ((string key, string value) in (baseLabels ?? new Dictionary<string, string>()).Concat(labels))
        {
            merged[key] = value;
        }

        return merged;
    }

    /// <summary>
    /// The base's history as it is, every field and every <c>empty_layer</c> step kept, when its steps that made a layer
    /// are as many as its layers (the spec's rule, which engines and scanners pair the layers with); else (no history,
    /// or one that does not line up) one step per base layer, named as the layer is. The product's steps follow.
    /// </summary>
    public static IReadOnlyList<OciHistory> History(IReadOnlyList<OciHistory>? baseHistory, IReadOnlyList<string> baseLayers)
    {
        if (baseHistory is { Count: > 0 } && baseHistory.Count(h => h.EmptyLayer != true) == baseLayers.Count)
        {
            return baseHistory;
        }

        return baseLayers.Select(name => new OciHistory { CreatedBy = name }).ToList();
    }

    /// <summary>
    /// The base's names and the project's, each once, sorted, as the config's sets are written (exposed ports and
    /// volumes: names mapped to empty objects); null when there are none.
    /// </summary>
    public static SortedDictionary<string, OciEmptyObject>? Union(IEnumerable<string>? baseNames, IEnumerable<string> names)
    {
        var merged = new SortedDictionary<string, OciEmptyObject>(StringComparer.Ordinal);
        foreach (string name in (baseNames ?? Array.Empty<string>()).Concat(names))
        {
            merged[name] = OciEmptyObject.Instance;
        }

        return merged.Count > 0 ? merged : null;
    }
}
