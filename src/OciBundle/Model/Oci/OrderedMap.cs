using System.Collections;

namespace OciBundle.Model.Oci;

/// <summary>
/// Text keys and values in the order they were first set (setting a key again keeps its place), so a document's
/// annotations are written in an order its writer chose and that never depends on a hash table's layout.
/// </summary>
internal sealed class OrderedMap : IReadOnlyDictionary<string, string>
{
    private readonly List<string> _keys = new();
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public string this[string key]
    {
        get => _values[key];
        set
        {
            if (!_values.ContainsKey(key))
            {
                _keys.Add(key);
            }

            _values[key] = value;
        }
    }

    public int Count => _keys.Count;

    public IEnumerable<string> Keys => _keys;

    public IEnumerable<string> Values
    {
        get
        {
            foreach (string key in _keys)
            {
                yield return _values[key];
            }
        }
    }

    public bool ContainsKey(string key) => _values.ContainsKey(key);

    public bool TryGetValue(string key, out string value) => _values.TryGetValue(key, out value!);

    // Iterators of this assembly, not LINQ over key/value pairs: a framework generic over a value type is compiled on
    // each publish, out of this assembly's precompiled code.
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        foreach (string key in _keys)
        {
            yield return new KeyValuePair<string, string>(key, _values[key]);
        }
    }

    /// <summary>The pairs of <paramref name="sources"/> in key order (ordinal); a key met again takes the later value.</summary>
    public static OrderedMap Sorted(params IEnumerable<KeyValuePair<string, string>>?[] sources)
    {
        var last = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (IEnumerable<KeyValuePair<string, string>>? source in sources)
        {
            foreach ((string key, string value) in source ?? Array.Empty<KeyValuePair<string, string>>())
            {
                last[key] = value;
            }
        }

        string[] keys = last.Keys.ToArray();
        Array.Sort(keys, StringComparer.Ordinal);
        var map = new OrderedMap();
        foreach (string key in keys)
        {
            map[key] = last[key];
        }

        return map;
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
