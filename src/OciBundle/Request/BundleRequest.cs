using OciBundle.Diagnostics;
using OciBundle.Model;

namespace OciBundle.Request;

/// <summary>
/// What to build, checked and typed: every value here is valid by construction, and nothing refers back to the raw
/// options. Made by one parse step, one parser per concern; the planner reads only this.
/// </summary>
internal sealed record BundleRequest(
    ContentSpec Content,
    ProcessSpec Process,
    IsolationSpec Isolation,
    OutputSpec Output,
    IReadOnlyList<OciBundleException> Warnings)
{
    /// <summary>The <c>OciBundleVolume</c> items: data folders the image lists and the bundle binds from the host.</summary>
    public IReadOnlyList<VolumeSpec> Volumes { get; init; } = Array.Empty<VolumeSpec>();

    /// <summary>Parses the options; throws <see cref="BundleValidationException"/> with every mistake, each with its own code.</summary>
    public static BundleRequest Parse(BundleOptions options)
    {
        var errors = new ParseErrors();
        var warnings = new List<OciBundleException>();
        ProcessSpec process = ProcessSpec.Parse(options, errors);
        ContentSpec content = ContentSpec.Parse(options, process.WorkingDirectory, errors, warnings);
        IsolationSpec isolation = IsolationSpec.Parse(options, process, content, errors);
        MountShadow.CheckRequest(process, content, isolation, errors);
        OutputSpec output = content.PublishDirectory.Length > 0 && Directory.Exists(content.PublishDirectory)
            ? OutputSpec.Parse(options, content.PublishDirectory, errors)
            : new OutputSpec(null, null, 0);
        IReadOnlyList<VolumeSpec> volumes = VolumeSpec.ParseAll(options, process, content, isolation, output, errors);
        // A port below 1024 needs CAP_NET_BIND_SERVICE, which a non-root process has only when asked for: it would fail to start.
        if (process.User.Uid != 0 && !process.Capabilities.Effective.Contains("CAP_NET_BIND_SERVICE")
            && process.ListeningPorts?.Split(';').FirstOrDefault(p => ushort.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort n) && n is > 0 and < 1024) is { } low)
        {
            errors.Add(Strings.PrivilegedPortWithoutCapability, low, process.User.Uid);
        }

        if (errors.All.Count > 0)
        {
            throw new BundleValidationException(errors.All);
        }

        warnings.AddRange(RiskySettings.Of(process, isolation, options.User));

        // An image exposes what the app listens on: the user's OciImagePort items, else a web app's HTTP ports.
        if (output.Image is { Ports.Count: 0 } image && process.ListeningPorts is { } listening
            && listening.Split(';').All(p => ushort.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort n) && n > 0))
        {
            output = output with { Image = image with { Ports = new Seq<string>(listening.Split(';').Distinct(StringComparer.Ordinal).Select(p => p + "/tcp")) } };
        }

        return new BundleRequest(content, process, isolation, output, warnings) { Volumes = volumes };
    }
}
