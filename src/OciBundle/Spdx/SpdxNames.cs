using System.Globalization;
using System.Text;

namespace OciBundle.Spdx;

/// <summary>The SBOM's names: SPDX ids (unique in the document), purl components, the tool's version.</summary>
internal sealed class SpdxNames
{
    public const string BundleId = "SPDXRef-Bundle";
    public const string AppId = "SPDXRef-App";
    public const string OsId = "SPDXRef-OperatingSystem";

    private readonly HashSet<string> _ids = new(StringComparer.Ordinal) { BundleId, AppId, OsId };

    /// <summary><paramref name="id"/>, or with <c>-2</c>, <c>-3</c>... when the document has it already: the first package named so keeps the plain id.</summary>
    public string Unique(string id)
    {
        string candidate = id;
        for (int n = 2; !_ids.Add(candidate); n++)
        {
            candidate = id + "-" + n.ToString(CultureInfo.InvariantCulture);
        }

        return candidate;
    }

    /// <summary>An SPDX id part: letters, digits, '.' and '-' only.</summary>
    public static string IdPart(string text)
    {
        var b = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            b.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '-');
        }

        return b.ToString();
    }

    /// <summary>Percent-encodes a purl component: all but unreserved characters and ':' (the purl specification's rule).</summary>
    public static string Encode(string text)
    {
        var b = new StringBuilder(text.Length);
        foreach (byte c in Encoding.UTF8.GetBytes(text))
        {
            if (c < 0x80 && (char.IsAsciiLetterOrDigit((char)c) || c is (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~' or (byte)':'))
            {
                b.Append((char)c);
            }
            else
            {
                b.Append('%').Append(c.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return b.ToString();
    }

    /// <summary>The product's version, as the document's creator and the annotations' annotator name it.</summary>
    public static string ToolVersion()
    {
        string? version = typeof(SpdxNames).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion;
        return (version ?? "0.0.0").Split('+')[0];
    }
}
