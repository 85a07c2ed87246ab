namespace OciBundle.Spdx;

/// <summary>The distribution a sysroot is, from its <c>os-release</c> (<c>ID=debian</c>, <c>VERSION_ID="12"</c>), as scanners read it.</summary>
internal sealed record OsRelease(string Id, string? VersionId, string? PrettyName)
{
    /// <summary>Parses os-release's shell-like <c>KEY=value</c> lines; null when there is no <c>ID</c>.</summary>
    public static OsRelease? Parse(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            int eq = line.IndexOf('=');
            if (line.StartsWith('#') || eq <= 0)
            {
                continue;
            }

            string value = line[(eq + 1)..].Trim();
            if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0])
            {
                value = value[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);
            }

            fields[line[..eq]] = value;
        }

        return fields.TryGetValue("ID", out string? id) && id.Length > 0
            ? new OsRelease(id.ToLowerInvariant(), fields.GetValueOrDefault("VERSION_ID"), fields.GetValueOrDefault("PRETTY_NAME"))
            : null;
    }
}
