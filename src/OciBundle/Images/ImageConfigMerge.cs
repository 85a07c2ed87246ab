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
    public static OrderedMap Labels(IReadOnlyDictionary<string, string>? baseLabels, IReadOnlyDictionary<string, string> labels) => OrderedMap.Sorted(baseLabels, labels);

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
    public static IReadOnlyDictionary<string, OciEmptyObject>? Union(IEnumerable<string>? baseNames, IEnumerable<string> names)
    {
        string[] sorted = (baseNames ?? Array.Empty<string>()).Concat(names).Distinct(StringComparer.Ordinal).ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }

        // A sorted dictionary would be compiled on each publish; this one is filled in key order, and read in it.
        Array.Sort(sorted, StringComparer.Ordinal);
        return new OrderedKeys(sorted);
    }

    /// <summary>Names in the order given, each mapped to the empty object.</summary>
    private sealed class OrderedKeys : IReadOnlyDictionary<string, OciEmptyObject>
    {
        private readonly string[] _keys;
        private readonly HashSet<string> _set;

        public OrderedKeys(string[] keys) => (_keys, _set) = (keys, new HashSet<string>(keys, StringComparer.Ordinal));

        public OciEmptyObject this[string key] => _set.Contains(key) ? OciEmptyObject.Instance : throw new KeyNotFoundException(key);
        public IEnumerable<string> Keys => _keys;
        public IEnumerable<OciEmptyObject> Values => _keys.Select(_ => OciEmptyObject.Instance);
        public int Count => _keys.Length;
        public bool ContainsKey(string key) => _set.Contains(key);

        public bool TryGetValue(string key, out OciEmptyObject value)
        {
            value = OciEmptyObject.Instance;
            return _set.Contains(key);
        }

        public IEnumerator<KeyValuePair<string, OciEmptyObject>> GetEnumerator()
        {
            foreach (string key in _keys)
            {
                yield return new KeyValuePair<string, OciEmptyObject>(key, OciEmptyObject.Instance);
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
