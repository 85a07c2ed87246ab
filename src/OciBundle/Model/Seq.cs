using System.Collections;

namespace OciBundle.Model;

/// <summary>
/// An immutable list that prints its items, so a request record's generated <c>ToString</c> spells out every value
/// (in messages and the debugger; the up-to-date key is <c>State/RequestKey</c>'s, from the values themselves).
/// </summary>
internal sealed class Seq<T> : IReadOnlyList<T>
{
    private readonly T[] _items;

    public Seq(IEnumerable<T> items) => _items = items.ToArray();

    public int Count => _items.Length;

    public T this[int index] => _items[index];

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => "[" + string.Join(", ", _items.Select(i => i is string s ? Quote(s) : i?.ToString() ?? "null")) + "]";

    internal static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}

/// <summary>An immutable map that prints its pairs in key order (see <see cref="Seq{T}"/>).</summary>
internal sealed class Map : IReadOnlyDictionary<string, string>
{
    private readonly Oci.OrderedMap _items;

    public Map(IEnumerable<KeyValuePair<string, string>> items) => _items = Oci.OrderedMap.Sorted(items);

    public int Count => _items.Count;
    public IEnumerable<string> Keys => _items.Keys;
    public IEnumerable<string> Values => _items.Values;
    public string this[string key] => _items[key];

    public bool ContainsKey(string key) => _items.ContainsKey(key);

    public bool TryGetValue(string key, out string value) => _items.TryGetValue(key, out value!);

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => "{" + string.Join(", ", _items.Keys.Select(k => Seq<string>.Quote(k) + ": " + Seq<string>.Quote(_items[k]))) + "}";
}
