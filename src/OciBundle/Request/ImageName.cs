using System.Text.RegularExpressions;
using OciBundle.Diagnostics;

namespace OciBundle.Request;

/// <summary>
/// The parts of an image's name as the distribution spec defines them: a registry (<c>host[:port]</c>), a
/// repository (lowercase path components), a tag. One parser for the layout's annotation and for the push.
/// </summary>
internal static partial class ImageName
{
    /// <summary>The registry a name without one points at in the layout's annotations (podman's convention for local images).</summary>
    public const string LocalRegistry = "localhost";

    // distribution/reference: domain components, an optional port; or a bracketed IPv6 address.
    [GeneratedRegex(@"^(?:(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$", RegexOptions.CultureInvariant)]
    private static partial Regex RegistryPattern();

    [GeneratedRegex("^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", RegexOptions.CultureInvariant)]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex TagPattern();

    public static bool IsTag(string tag) => TagPattern().IsMatch(tag);

    /// <summary>A registry as the distribution spec writes it (host or bracketed IPv6 address, an optional port of 1 to 65535).</summary>
    public static bool IsRegistry(string text) => ParseRegistry(text, new ParseErrors()) == text;

    /// <summary>A repository: lowercase path components, at most 255 characters.</summary>
    public static bool IsRepository(string text) => text.Length <= 255 && RepositoryPattern().IsMatch(text);

    /// <summary><c>OciImageTags</c>: each a tag (OCIB1402 for one that is not), each once, in order; empty entries skipped.</summary>
    public static List<string> ParsePushTags(IEnumerable<string> values, ParseErrors errors)
    {
        var tags = new List<string>();
        foreach (string tag in values.Select(t => t.Trim()).Where(t => t.Length > 0))
        {
            if (!IsTag(tag))
            {
                errors.Add(Strings.InvalidPushTag, tag);
            }
            else if (!tags.Contains(tag, StringComparer.Ordinal))
            {
                tags.Add(tag);
            }
        }

        return tags;
    }

    /// <summary><c>OciImageRegistry</c>: empty for none; else <c>host[:port]</c>, no scheme, no path.</summary>
    public static string? ParseRegistry(string? value, ParseErrors errors)
    {
        string text = value?.Trim() ?? "";
        if (text.Length == 0)
        {
            return null;
        }

        int at = text.LastIndexOf('@');
        string why = at >= 0 ? "it holds user information (credentials come from docker login, a credential helper or OCIBUNDLE_REGISTRY_USERNAME/OCIBUNDLE_REGISTRY_PASSWORD, never from the registry's name)"
            : text.Contains("://", StringComparison.Ordinal) ? "it has a scheme (plain HTTP is chosen with OciImageInsecureRegistries, not http://)"
            : text.Contains('/', StringComparison.Ordinal) ? "it has a path (the path belongs in OciImageRepository)"
            : !RegistryPattern().IsMatch(text) ? "it is not a host name or address with an optional port"
            : text.LastIndexOf(':') is int colon && colon > text.LastIndexOf(']') && (!ushort.TryParse(text[(colon + 1)..], out ushort port) || port == 0) ? "its port is not 1 to 65535"
            : "";
        if (why.Length > 0)
        {
            errors.Add(Strings.InvalidRegistry, at >= 0 ? "***@" + text[(at + 1)..] : value, why); // never echo a password
            return null;
        }

        return text;
    }

    /// <summary><c>OciImageRepository</c>: lowercase path components of letters and digits joined by <c>. _ __ -</c>, up to 255 characters.</summary>
    public static string? ParseRepository(string? value, ParseErrors errors)
    {
        string text = errors.Required(value, "OciImageRepository");
        if (text.Length == 0)
        {
            return null;
        }

        if (text.Length > 255 || !RepositoryPattern().IsMatch(text))
        {
            errors.Add(Strings.InvalidRepository, value);
            return null;
        }

        return text;
    }

    /// <summary>The key a credential store and a docker config.json file a registry under: docker.io's is its legacy URL.</summary>
    public static string CredentialKey(string registry) => registry is "docker.io" or "registry-1.docker.io" or "index.docker.io" ? "https://index.docker.io/v1/" : registry;
}
