using OciBundle.Diagnostics;
using OciBundle.Model;

namespace OciBundle.Request;

/// <summary>What a push is asked for, as plain values: the push task copies the project's properties into it, tests fill it directly.</summary>
internal sealed class PushOptions
{
    /// <summary>The image layout the publish wrote (<c>OciImageDir</c>).</summary>
    public string ImageDirectory { get; set; } = "";

    /// <summary><c>OciImageRegistry</c>.</summary>
    public string? Registry { get; set; }

    /// <summary><c>OciImageRepository</c>.</summary>
    public string? Repository { get; set; }

    /// <summary><c>OciImageTags</c>, split.</summary>
    public IList<string> Tags { get; set; } = new List<string>();

    /// <summary><c>OciImageInsecureRegistries</c>, split.</summary>
    public IList<string> InsecureRegistries { get; set; } = new List<string>();

    /// <summary>Where the pushes of this project are remembered (which repository of a registry holds which blob), for cross-repository mounts; null for none.</summary>
    public string? RecordFile { get; set; }
}

/// <summary>A push, checked: where to, over which transport, under which tags. Credentials are not here: they are looked up when the push runs, and never stored.</summary>
internal sealed record PushSpec(
    string ImageDirectory,
    string Registry,
    string Repository,
    IReadOnlyList<string> Tags,
    bool PlainHttp,
    string? RecordFile)
{
    /// <summary>The environment variables that list registries reached over plain HTTP, ours first, then the .NET SDK's.</summary>
    public static readonly string[] InsecureRegistriesVariables = { "OCIBUNDLE_INSECURE_REGISTRIES", "DOTNET_CONTAINER_INSECURE_REGISTRIES" };

    public static PushSpec Parse(PushOptions o, Func<string, string?> environment)
    {
        var errors = new ParseErrors();
        string? registry = ImageName.ParseRegistry(o.Registry, errors);
        if (registry is null && errors.All.Count == 0)
        {
            errors.Add(Strings.RequiredValueMissing, "OciImageRegistry");
        }

        string? repository = ImageName.ParseRepository(o.Repository, errors);
        List<string> tags = ImageName.ParsePushTags(o.Tags, errors);

        if (tags.Count == 0 && errors.All.Count == 0)
        {
            errors.Add(Strings.RequiredValueMissing, "OciImageTags");
        }

        List<string> insecure = ParseInsecureRegistries(o.InsecureRegistries, environment, errors);

        if (errors.All.Count > 0)
        {
            throw new BundleValidationException(errors.All);
        }

        bool plainHttp = insecure.Contains(registry!, StringComparer.OrdinalIgnoreCase);
        return new PushSpec(Path.GetFullPath(o.ImageDirectory), registry!, repository!, new Seq<string>(tags), plainHttp, o.RecordFile is { Length: > 0 } r ? Path.GetFullPath(r) : null);
    }

    /// <summary>
    /// The registries reached over plain HTTP: <c>OciImageInsecureRegistries</c>, then the environment's lists
    /// (<see cref="InsecureRegistriesVariables"/>), each entry host[:port] (OCIB1403 for one that is not); for the push
    /// and for a sysroot pulled from a registry alike.
    /// </summary>
    public static List<string> ParseInsecureRegistries(IEnumerable<string> property, Func<string, string?> environment, ParseErrors errors)
    {
        var insecure = new List<string>();
        foreach ((string source, IEnumerable<string> entries) in new[] { ("OciImageInsecureRegistries", property) }
            .Concat(InsecureRegistriesVariables.Select(v => (v, (IEnumerable<string>)(environment(v) ?? "").Split(new[] { ';', ',' }, StringSplitOptions.TrimEntries)))))
        {
            foreach (string entry in entries.Select(e => e.Trim()).Where(e => e.Length > 0))
            {
                var entryErrors = new ParseErrors();
                if (ImageName.ParseRegistry(entry, entryErrors) is { } host)
                {
                    insecure.Add(host);
                }
                else
                {
                    errors.Add(Strings.InvalidInsecureRegistry, source, entry);
                }
            }
        }

        return insecure;
    }
}
