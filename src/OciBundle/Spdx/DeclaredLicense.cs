using System.Text.RegularExpressions;
using System.Xml;

namespace OciBundle.Spdx;

/// <summary>
/// A package's license where the package states it machine-readably, as an SPDX license expression; otherwise
/// <c>NOASSERTION</c>. Nothing is guessed from prose: a NuGet package's <c>&lt;license type="expression"&gt;</c>, and a
/// Debian package's machine-readable copyright file (DEP-5) when every license it names has an SPDX identifier.
/// </summary>
internal static partial class DeclaredLicense
{
    public const string NoAssertion = "NOASSERTION";

    // Debian's short names (DEP-5, /usr/share/common-licenses) whose SPDX identifier is unambiguous.
    private static readonly Dictionary<string, string> DebianNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Apache-2.0"] = "Apache-2.0",
        ["Artistic"] = "Artistic-1.0-Perl",
        ["Artistic-2.0"] = "Artistic-2.0",
        ["BSD-2-clause"] = "BSD-2-Clause",
        ["BSD-3-clause"] = "BSD-3-Clause",
        ["BSD-4-clause"] = "BSD-4-Clause",
        ["BSL-1.0"] = "BSL-1.0",
        ["CC0-1.0"] = "CC0-1.0",
        ["Expat"] = "MIT",
        ["MIT"] = "MIT",
        ["ISC"] = "ISC",
        ["MPL-1.1"] = "MPL-1.1",
        ["MPL-2.0"] = "MPL-2.0",
        ["X11"] = "X11",
        ["Zlib"] = "Zlib",
        ["OpenSSL"] = "OpenSSL",
        ["Unicode-DFS-2016"] = "Unicode-DFS-2016",
        ["GPL-1"] = "GPL-1.0-only", ["GPL-1+"] = "GPL-1.0-or-later",
        ["GPL-2"] = "GPL-2.0-only", ["GPL-2+"] = "GPL-2.0-or-later",
        ["GPL-3"] = "GPL-3.0-only", ["GPL-3+"] = "GPL-3.0-or-later",
        ["LGPL-2"] = "LGPL-2.0-only", ["LGPL-2+"] = "LGPL-2.0-or-later",
        ["LGPL-2.1"] = "LGPL-2.1-only", ["LGPL-2.1+"] = "LGPL-2.1-or-later",
        ["LGPL-3"] = "LGPL-3.0-only", ["LGPL-3+"] = "LGPL-3.0-or-later",
        ["GFDL-1.3"] = "GFDL-1.3-only", ["GFDL-1.3+"] = "GFDL-1.3-or-later",
    };

    [GeneratedRegex(@"^[A-Za-z0-9.+-]+$")]
    private static partial Regex LicenseToken();

    /// <summary>The license expression of a <c>.nuspec</c>; NOASSERTION without one (a license file or URL is not an expression).</summary>
    public static string FromNuspec(string path)
    {
        try
        {
            using XmlReader reader = XmlReader.Create(path, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, MaxCharactersInDocument = 16 << 20 });
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "license" && reader.GetAttribute("type") == "expression")
                {
                    string expression = reader.ReadElementContentAsString().Trim();
                    return IsExpression(expression) ? expression : NoAssertion;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or XmlException)
        {
        }

        return NoAssertion;
    }

    /// <summary>
    /// The licenses a DEP-5 copyright file names, joined with AND (each file's <c>License:</c> is one clause, an
    /// <c>or</c> choice in parentheses); NOASSERTION when the file is not DEP-5 or names a license SPDX has no
    /// identifier for (<c>public-domain</c>, a custom name).
    /// </summary>
    public static string FromDebianCopyright(string path)
    {
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length > 4 << 20)
            {
                return NoAssertion;
            }

            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return NoAssertion;
        }

        if (!text.StartsWith("Format: http", StringComparison.Ordinal) || !text.Contains("copyright-format/1.0", StringComparison.Ordinal))
        {
            return NoAssertion;
        }

        // The License field of the header and of each Files paragraph says what the files are under; a stand-alone
        // License paragraph only gives a license's text, and counting it would turn an "or" choice into an "and".
        var clauses = new SortedSet<string>(StringComparer.Ordinal);
        string[] paragraphs = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        foreach (string line in paragraphs.Select((p, i) => (Text: p, Index: i))
            .Where(p => p.Index == 0 || p.Text.Split('\n').Any(l => l.StartsWith("Files:", StringComparison.Ordinal)))
            .SelectMany(p => p.Text.Split('\n')))
        {
            if (!line.StartsWith("License:", StringComparison.Ordinal))
            {
                continue;
            }

            string[] choices = line["License:".Length..].Trim().Split(" or ", StringSplitOptions.TrimEntries);
            var mapped = new List<string>();
            foreach (string choice in choices)
            {
                string[] all = choice.Split(" and ", StringSplitOptions.TrimEntries);
                var parts = new List<string>();
                foreach (string name in all)
                {
                    string bare = name.TrimEnd(',');
                    if (!DebianNames.TryGetValue(bare, out string? id))
                    {
                        return NoAssertion;
                    }

                    parts.Add(id);
                }

                mapped.Add(parts.Count == 1 ? parts[0] : "(" + string.Join(" AND ", parts) + ")");
            }

            if (mapped.Count > 0)
            {
                clauses.Add(mapped.Count == 1 ? mapped[0] : "(" + string.Join(" OR ", mapped) + ")");
            }
        }

        return clauses.Count == 0 ? NoAssertion : string.Join(" AND ", clauses);
    }

    /// <summary>
    /// An SPDX license expression by its grammar (SPDX 2.3 annex D): <c>id[+] [WITH exception]</c> joined by AND and
    /// OR, in parentheses as needed. Anything else (<c>((MIT AND AND OR</c>) is not trusted.
    /// </summary>
    internal static bool IsExpression(string expression)
    {
        if (expression.Length is 0 or > 512)
        {
            return false;
        }

        List<string> tokens = expression.Replace("(", " ( ", StringComparison.Ordinal).Replace(")", " ) ", StringComparison.Ordinal)
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        int at = 0;
        bool Operator(string t) => t.Equals("AND", StringComparison.OrdinalIgnoreCase) || t.Equals("OR", StringComparison.OrdinalIgnoreCase) || t.Equals("WITH", StringComparison.OrdinalIgnoreCase);
        bool Id() => at < tokens.Count && !Operator(tokens[at]) && tokens[at] is not ("(" or ")") && LicenseToken().IsMatch(tokens[at++]);
        bool Term()
        {
            if (at < tokens.Count && tokens[at] == "(")
            {
                at++;
                return Expression() && at < tokens.Count && tokens[at++] == ")";
            }

            if (!Id())
            {
                return false;
            }

            if (at < tokens.Count && tokens[at].Equals("WITH", StringComparison.OrdinalIgnoreCase))
            {
                at++;
                return Id();
            }

            return true;
        }

        bool Expression()
        {
            if (!Term())
            {
                return false;
            }

            while (at < tokens.Count && (tokens[at].Equals("AND", StringComparison.OrdinalIgnoreCase) || tokens[at].Equals("OR", StringComparison.OrdinalIgnoreCase)))
            {
                at++;
                if (!Term())
                {
                    return false;
                }
            }

            return true;
        }

        return Expression() && at == tokens.Count;
    }
}
