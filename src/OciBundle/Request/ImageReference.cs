using System.Text.RegularExpressions;

namespace OciBundle.Request;

/// <summary>
/// An image in a registry, named as skopeo and podman name it with their <c>docker</c> transport:
/// <c>docker://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]</c>. Parsed by the rules of containers/image
/// (<c>reference.ParseNormalizedNamed</c>, as skopeo 1.9 has them): a first component with no '.' or ':' that is not
/// <c>localhost</c> is a Docker Hub repository (<c>debian</c> is <c>docker.io/library/debian</c>), <c>index.docker.io</c> is
/// <c>docker.io</c>, a name with neither tag nor digest is <c>:latest</c>. Unlike skopeo, a tag and a digest together
/// are taken (as docker and podman take them in a Dockerfile's FROM): the digest is the pin, the tag only names it.
/// </summary>
internal sealed partial record ImageReference(string Registry, string Repository, string? Tag, string? Digest)
{
    public const string Transport = "docker:";

    /// <summary>Docker Hub's name in references, and the host that serves its API.</summary>
    public const string DockerHub = "docker.io";

    private const int MaxLength = 4096;

    // distribution/reference: an algorithm, a colon, at least 32 hex digits.
    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$", RegexOptions.CultureInvariant)]
    private static partial Regex DigestPattern();

    [GeneratedRegex("^[a-f0-9]{64}$", RegexOptions.CultureInvariant)]
    private static partial Regex ImageIdPattern();

    /// <summary>Whether <c>OciBundleSysroot</c> names an image by the docker transport (then it is never a path).</summary>
    public static bool IsReference(string value) => value.StartsWith(Transport, StringComparison.Ordinal);

    /// <summary>The host the distribution API is asked: Docker Hub's API lives on registry-1.docker.io.</summary>
    public string ApiHost => Registry == DockerHub ? "registry-1.docker.io" : Registry;

    /// <summary><c>registry/repository[:tag]</c>: what <c>org.opencontainers.image.base.name</c> says.</summary>
    public string Name => $"{Registry}/{Repository}" + (Tag is null ? "" : ":" + Tag);

    public override string ToString() => $"docker://{Registry}/{Repository}" + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>The reference, or null with <paramref name="why"/> saying what is wrong (never echoing user information).</summary>
    public static ImageReference? Parse(string value, out string why)
    {
        why = "";
        string text = value.Trim();
        if (!IsReference(text) || !text.AsSpan(Transport.Length).StartsWith("//", StringComparison.Ordinal))
        {
            why = "the docker transport's reference starts with '//' (docker://...)";
            return null;
        }

        string rest = text[(Transport.Length + 2)..];
        string? fault = rest.Length == 0 ? "it names no image"
            : rest.Length > MaxLength ? $"it is longer than {MaxLength} characters"
            : rest.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) ? "it holds a space or a control character"
            : null;
        if (fault is not null)
        {
            why = fault;
            return null;
        }

        string? digest = null;
        int at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = rest[(at + 1)..];
            rest = rest[..at];
            if (!DigestPattern().IsMatch(digest))
            {
                why = !rest.Contains('/', StringComparison.Ordinal) && digest.Contains('/', StringComparison.Ordinal)
                    ? "it holds user information (credentials come from docker login, a credential helper or OCIBUNDLE_REGISTRY_USERNAME/OCIBUNDLE_REGISTRY_PASSWORD, never from the reference)"
                    : $"'@{Shorten(digest)}' is not a digest (algorithm:hex)";
                return null;
            }

            if (!SysrootSpec.IsDigest(digest))
            {
                why = digest.StartsWith("sha256:", StringComparison.Ordinal)
                    ? $"the digest '{digest}' is not sha256: and 64 lowercase hex digits"
                    : $"the digest '{Shorten(digest)}' is not sha256 (an image is pinned by its sha256 digest, as registries name it)";
                return null;
            }
        }

        return ParseName(rest, digest, out why);
    }

    private static ImageReference? ParseName(string name, string? digest, out string why)
    {
        why = "";
        string? tag = null;
        int colon = name.LastIndexOf(':');
        if (colon > name.LastIndexOf('/'))
        {
            tag = name[(colon + 1)..];
            name = name[..colon];
            if (!ImageName.IsTag(tag))
            {
                why = $"'{Shorten(tag)}' is not a tag (letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-')";
                return null;
            }
        }

        if (ImageIdPattern().IsMatch(name))
        {
            why = $"'{name}' is 64 hexadecimal digits, an image ID, not a repository";
            return null;
        }

        int slash = name.IndexOf('/', StringComparison.Ordinal);
        string registry = DockerHub, repository = name;
        if (slash >= 0)
        {
            string first = name[..slash];
            if (first.IndexOfAny(new[] { '.', ':' }) >= 0 || first == "localhost")
            {
                registry = first == "index.docker.io" ? DockerHub : first;
                repository = name[(slash + 1)..];
            }
        }

        if (registry == DockerHub && !repository.Contains('/', StringComparison.Ordinal))
        {
            repository = "library/" + repository;
        }

        why = repository.ToLowerInvariant() != repository ? $"the repository '{Shorten(repository)}' must be lowercase"
            : !ImageName.IsRegistry(registry) ? $"'{Shorten(registry)}' is not a registry (a host name or address, an optional port of 1 to 65535)"
            : registry.Length + 1 + repository.Length > 255 ? "the registry and repository are longer than 255 characters"
            : !ImageName.IsRepository(repository) ? $"'{Shorten(repository)}' is not a repository (lowercase path components of letters and digits joined by '.', '_', '__' or '-', separated by '/')"
            : "";
        return why.Length > 0 ? null : new ImageReference(registry, repository, tag ?? (digest is null ? "latest" : null), digest);
    }

    private static string Shorten(string text) => text.Length > 100 ? text[..100] + "..." : text;
}
