using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;

namespace OciBundle.State;

/// <summary>
/// The up-to-date check's key of a request: a canonical text written from the typed values themselves, not from
/// their <c>ToString</c> (which spells out a collection only while its type happens to print its items, and would
/// key a <c>List&lt;T&gt;</c> field by its type name, so a change in it would go unseen). Records and other classes
/// by their public properties in declared order, collections item by item, dictionaries in key order, strings quoted;
/// a type it cannot spell (a delegate, a stream, a pointer) throws instead of being keyed by its name.
/// </summary>
internal static class RequestKey
{
    private const int MaxDepth = 32;

    /// <summary>The key of these parts (in order) and the host's facts.</summary>
    public static string Of(IEnumerable<object?> parts, string hostFacts)
    {
        var text = new StringBuilder();
        foreach (object? part in parts)
        {
            Write(text, part, 0);
            text.Append('\n');
        }

        return BuildState.KeyOf(text.Append(hostFacts).ToString());
    }

    /// <summary>The canonical text of one value: what the key hashes.</summary>
    public static string Text(object? value)
    {
        var text = new StringBuilder();
        Write(text, value, 0);
        return text.ToString();
    }

    private static void Write(StringBuilder text, object? value, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidOperationException($"The request key does not follow values nested over {MaxDepth} deep (a cycle?).");
        }

        switch (value)
        {
            case null: text.Append("null"); return;
            case string s: Quote(text, s); return;
            case bool b: text.Append(b ? "true" : "false"); return;
            case Enum e: text.Append(e.GetType().Name).Append('.').Append(e.ToString("G")); return;
            case char c: Quote(text, c.ToString()); return;
            case DateTimeOffset t: text.Append(t.ToString("O", CultureInfo.InvariantCulture)); return;
            case DateTime t: text.Append(t.ToString("O", CultureInfo.InvariantCulture)); return;
            case TimeSpan t: text.Append(t.Ticks.ToString(CultureInfo.InvariantCulture)); return;
            case IFormattable f when value.GetType().IsPrimitive || value is decimal:
                text.Append(f.ToString(null, CultureInfo.InvariantCulture)); return;
            case Delegate or Stream or MemberInfo or Pointer:
                throw new InvalidOperationException($"The request key cannot spell a {value.GetType().Name}: keep such values out of the request.");
        }

        Type type = value.GetType();
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(KeyValuePair<,>))
        {
            WritePair(text, type.GetProperty("Key")!.GetValue(value), type.GetProperty("Value")!.GetValue(value), depth);
        }
        else if (value is IDictionary dictionary)
        {
            WriteDictionary(text, dictionary.Keys.Cast<object?>().Select(k => new DictionaryPair(k, dictionary[k!])), depth);
        }
        else if (DictionaryPairs(value) is { } pairs)
        {
            WriteDictionary(text, pairs, depth);
        }
        else if (value is IEnumerable items)
        {
            WriteList(text, items, depth);
        }
        else
        {
            WriteObject(text, value, type, depth);
        }
    }

    /// <summary>An <c>IReadOnlyDictionary</c> that is not an <c>IDictionary</c> (such as <c>Map</c>): its pairs.</summary>
    private static IEnumerable<DictionaryPair>? DictionaryPairs(object value)
    {
        Type? dictionary = value.GetType().GetInterfaces()
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>));
        if (dictionary is null)
        {
            return null;
        }

        Type pair = typeof(KeyValuePair<,>).MakeGenericType(dictionary.GetGenericArguments());
        PropertyInfo key = pair.GetProperty("Key")!, item = pair.GetProperty("Value")!;
        return ((IEnumerable)value).Cast<object>().Select(p => new DictionaryPair(key.GetValue(p), item.GetValue(p)));
    }

    private static void WriteDictionary(StringBuilder text, IEnumerable<DictionaryPair> pairs, int depth)
    {
        // In key order: two dictionaries with the same pairs are the same request, however they were filled.
        text.Append('{');
        bool first = true;
        foreach (DictionaryPair pair in pairs.Select(p => new DictionaryPair(Text(p.Key), p.Value)).OrderBy(p => (string)p.Key!, StringComparer.Ordinal))
        {
            (string key, object? value) = ((string)pair.Key!, pair.Value);
            text.Append(first ? "" : ", ").Append(key).Append(": ");
            Write(text, value, depth + 1);
            first = false;
        }

        text.Append('}');
    }

    private static void WritePair(StringBuilder text, object? key, object? value, int depth)
    {
        text.Append('(');
        Write(text, key, depth + 1);
        text.Append(", ");
        Write(text, value, depth + 1);
        text.Append(')');
    }

    private static void WriteList(StringBuilder text, IEnumerable items, int depth)
    {
        text.Append('[');
        bool first = true;
        foreach (object? item in items)
        {
            text.Append(first ? "" : ", ");
            Write(text, item, depth + 1);
            first = false;
        }

        text.Append(']');
    }

    private static void WriteObject(StringBuilder text, object value, Type type, int depth)
    {
        PropertyInfo[] properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract")
            .OrderBy(p => p.MetadataToken)
            .ToArray();
        if (properties.Length == 0)
        {
            throw new InvalidOperationException($"The request key cannot spell a {type.Name}: it has no public properties to key it by.");
        }

        text.Append(type.Name).Append(" { ");
        foreach (PropertyInfo property in properties)
        {
            text.Append(property.Name).Append(" = ");
            Write(text, property.GetValue(value), depth + 1);
            text.Append("; ");
        }

        text.Append('}');
    }

    private static void Quote(StringBuilder text, string s)
    {
        text.Append('"');
        foreach (char c in s)
        {
            _ = c switch
            {
                '"' => text.Append("\\\""),
                '\\' => text.Append("\\\\"),
                < ' ' or '\u007f' => text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)),
                _ => text.Append(c),
            };
        }

        text.Append('"');
    }
}

/// <summary>A key and its value, as <see cref="RequestKey"/> writes a dictionary (a class, not a tuple: LINQ over a value type is compiled on every publish).</summary>
internal sealed record DictionaryPair(object? Key, object? Value);
