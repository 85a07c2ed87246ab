namespace OciBundle.Dotnet;

/// <summary>
/// Picks the installed version of a shared framework the .NET host would run an app on, following the host's
/// roll-forward rules: <c>Minor</c> (the default) takes the lowest installed major.minor at or above the one asked
/// for within the same major, then its highest patch; <c>LatestPatch</c> stays on the same major.minor;
/// <c>Major</c> may go to a higher major; <c>LatestMinor</c>/<c>LatestMajor</c> take the highest; <c>Disable</c> wants an exact match.
/// Release versions are preferred to pre-releases, as the host does for a release request.
/// </summary>
internal static class SharedFrameworkResolver
{
    public static string? Pick(IEnumerable<string> installed, string requested, string rollForward)
    {
        if (!TryParse(requested, out FrameworkVersion want))
        {
            return null;
        }

        var candidates = installed
            .Select(v => TryParse(v, out FrameworkVersion parsed) ? parsed : (FrameworkVersion?)null)
            .OfType<FrameworkVersion>()
            .Where(v => v.CompareTo(want) >= 0 && (want.IsPrerelease || !v.IsPrerelease))
            .ToList();

        IEnumerable<FrameworkVersion> pool = rollForward.ToLowerInvariant() switch
        {
            "disable" => candidates.Where(v => v.CompareTo(want) == 0),
            "latestpatch" => candidates.Where(v => v.Major == want.Major && v.Minor == want.Minor),
            "minor" => LowestThenLatestPatch(candidates.Where(v => v.Major == want.Major)),
            "latestminor" => candidates.Where(v => v.Major == want.Major),
            "major" => LowestThenLatestPatch(candidates),
            "latestmajor" => candidates,
            _ => LowestThenLatestPatch(candidates.Where(v => v.Major == want.Major)),
        };

        return pool.OrderByDescending(v => v).Select(v => v.Text).FirstOrDefault();
    }

    private static IEnumerable<FrameworkVersion> LowestThenLatestPatch(IEnumerable<FrameworkVersion> versions)
    {
        var list = versions.ToList();
        if (list.Count == 0)
        {
            return list;
        }

        FrameworkVersion lowest = list.Min();
        return list.Where(v => v.Major == lowest.Major && v.Minor == lowest.Minor);
    }

    private static bool TryParse(string text, out FrameworkVersion version)
    {
        version = default;
        int dash = text.IndexOf('-');
        string core = dash < 0 ? text : text[..dash];
        string[] parts = core.Split('.');
        if (parts.Length != 3 || !int.TryParse(parts[0], out int major) || !int.TryParse(parts[1], out int minor) || !int.TryParse(parts[2], out int patch))
        {
            return false;
        }

        version = new FrameworkVersion(major, minor, patch, dash < 0 ? null : text[(dash + 1)..], text);
        return true;
    }

    private readonly record struct FrameworkVersion(int Major, int Minor, int Patch, string? Prerelease, string Text) : IComparable<FrameworkVersion>
    {
        public bool IsPrerelease => Prerelease is not null;

        public int CompareTo(FrameworkVersion other)
        {
            int c = Major.CompareTo(other.Major);
            if (c == 0) c = Minor.CompareTo(other.Minor);
            if (c == 0) c = Patch.CompareTo(other.Patch);
            if (c == 0) c = (Prerelease is null).CompareTo(other.Prerelease is null);
            if (c == 0) c = string.CompareOrdinal(Prerelease, other.Prerelease);
            return c;
        }
    }
}
