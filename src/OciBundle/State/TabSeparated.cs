using System.Text;

namespace OciBundle.State;

/// <summary>
/// The escaping of the tab-separated files this product keeps for itself (the state in obj/, a sysroot cache entry's
/// marker): a backslash, tab, newline or carriage return in a field is written as <c>\\</c>, <c>\t</c>, <c>\n</c>, <c>\r</c>.
/// </summary>
internal static class TabSeparated
{
    public static string Escape(string value) =>
        value.IndexOfAny(['\\', '\t', '\n', '\r']) < 0 ? value
            : value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal);

    public static string Unescape(string value)
    {
        if (!value.Contains('\\'))
        {
            return value;
        }

        var b = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length)
            {
                i++;
                b.Append(value[i] switch { 't' => '\t', 'n' => '\n', 'r' => '\r', _ => value[i] });
            }
            else
            {
                b.Append(value[i]);
            }
        }

        return b.ToString();
    }
}
