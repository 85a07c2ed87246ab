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

    public IEnumerable<string> Values => _keys.Select(k => _values[k]);

    public bool ContainsKey(string key) => _values.ContainsKey(key);

    public bool TryGetValue(string key, out string value) => _values.TryGetValue(key, out value!);

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _keys.Select(k => new KeyValuePair<string, string>(k, _values[k])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
