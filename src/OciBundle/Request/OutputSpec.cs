using System.Globalization;
using System.Text.RegularExpressions;
using OciBundle.Diagnostics;
using OciBundle.Outputs;
using OciBundle.Model;

namespace OciBundle.Request;

/// <summary>
/// Where the outputs go, checked before anything is deleted: the bundle, the image layout and its archive. Every
/// file's timestamp is <see cref="Epoch"/>; the documents' <c>created</c> (image, SBOM) is the time of
/// <see cref="Commit"/> when there is one (<c>SOURCE_DATE_EPOCH</c> unset, the project in git), else the same.
/// </summary>
internal sealed record OutputSpec(
    string? BundleDirectory,
    ImageSpec? Image,
    long Epoch,
    string? Commit = null)
{
    public static OutputSpec Parse(BundleOptions o, string publishDirectory, ParseErrors errors)
    {
        var protectedFolders = new List<string>(o.ProtectedDirectories);
        if (!string.IsNullOrWhiteSpace(o.ProjectDirectory))
        {
            protectedFolders.Add(o.ProjectDirectory);
        }

        string? bundle = o.WriteBundle ? ParseFolder(o.BundleDirectory, "OciBundleDir", OutputKind.Bundle, publishDirectory, protectedFolders, errors) : null;
        ImageSpec? image = o.ImageDirectory is null ? null : ImageSpec.Parse(o, bundle, publishDirectory, protectedFolders, errors);
        string epochText = errors.Required(o.SourceDateEpoch, "SOURCE_DATE_EPOCH");
        long epoch = 0;
        // Up to 2106-02-07 (32 unsigned bits): what every file system and archive format here can store exactly.
        if (epochText.Length > 0 && (!long.TryParse(epochText, NumberStyles.None, CultureInfo.InvariantCulture, out epoch) || epoch > uint.MaxValue))
        {
            errors.Add(Strings.InvalidSourceDateEpoch, o.SourceDateEpoch);
        }

        return new OutputSpec(bundle, image, epoch, CommitTime.Parse(o.SourceCommit));
    }

    /// <summary>
    /// An output folder is replaced as a whole, so it must be missing, empty or hold an output of ours, and never a
    /// folder of the system or the project: checked here, before anything is deleted, and again under the lock.
    /// </summary>
    internal static string? ParseFolder(string? value, string property, OutputKind kind, string publish, IReadOnlyList<string> protectedFolders, ParseErrors errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add(Strings.BundleDirectoryUnsafe, property, value, "it is empty");
            return null;
        }

        string dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(value));
        if (publish.Length > 0 && ContainerPath.IsSameOrInside(publish, dir))
        {
            errors.Add(Strings.BundleDirectoryUnsafe, property, value, $"it is or contains the publish folder {publish}");
        }
        else if (publish.Length > 0 && ContainerPath.IsSameOrInside(dir, publish))
        {
            errors.Add(Strings.BundleDirectoryInsidePublishDirectory, property, value, publish);
        }
        else if (OutputFolder.ProtectedReason(dir, protectedFolders) is { } reason)
        {
            errors.Add(Strings.BundleDirectoryUnsafe, property, value, reason);
        }
        else if (OutputFolder.CheckReplaceable(dir, property, kind) is { } error)
        {
            errors.Add(error);
        }
        else
        {
            return dir;
        }

        return null;
    }
}

/// <summary>The image layout: its folder, archive, name, labels, ports and default args.</summary>
internal sealed partial record ImageSpec(
    string Directory,
    string? Archive,
    string Tag,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyList<string> Ports,
    string? Registry,
    string Repository,
    IReadOnlyList<string> DefaultArgs,
    LayerCompression Compression = LayerCompression.Gzip,
    ImageLayering Layering = ImageLayering.ByChangeRate)
{
    /// <summary>The <c>io.containerd.image.name</c> annotation: <c>registry/repository:tag</c>, <c>localhost/...</c> when it goes to no registry.</summary>
    public string FullName => $"{Registry ?? ImageName.LocalRegistry}/{Repository}:{Tag}";

    [GeneratedRegex("^[0-9]{1,5}(/(tcp|udp|sctp))?$", RegexOptions.CultureInvariant)]
    private static partial Regex PortPattern();

    public static ImageSpec? Parse(BundleOptions o, string? bundle, string publish, IReadOnlyList<string> protectedFolders, ParseErrors errors)
    {
        string tag = errors.Required(o.ImageTag, "OciImageTag");
        if (tag.Length > 0 && !ImageName.IsTag(tag))
        {
            errors.Add(Strings.InvalidImageTag, o.ImageTag);
        }

        LayerCompression compression = LayerCompression.Gzip;
        string compressionText = errors.Required(o.ImageLayerCompression, "OciImageLayerCompression").Trim();
        if (compressionText.Equals("zstd", StringComparison.OrdinalIgnoreCase))
        {
            compression = LayerCompression.Zstd;
        }
        else if (compressionText.Length > 0 && !compressionText.Equals("gzip", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(Strings.InvalidLayerCompression, o.ImageLayerCompression);
        }

        ImageLayering layering = ParseLayering(o.ImageLayering, errors);

        var ports = new List<string>();
        foreach (string port in o.ImagePorts.Select(p => p.Trim()))
        {
            if (!PortPattern().IsMatch(port) || int.Parse(port.Split('/')[0], CultureInfo.InvariantCulture) is 0 or > 65535)
            {
                errors.Add(Strings.InvalidImagePort, port);
            }
            else
            {
                // A set, as ExposedPorts is: 8080 and 8080/tcp (an OciImagePort and a ContainerPort) are one port.
                string exposed = port.Contains('/') ? port : port + "/tcp";
                if (!ports.Contains(exposed, StringComparer.Ordinal))
                {
                    ports.Add(exposed);
                }
            }
        }

        string? dir = OutputSpec.ParseFolder(o.ImageDirectory, "OciImageDir", OutputKind.Image, publish, protectedFolders, errors);
        if (dir is not null && bundle is not null && (ContainerPath.IsSameOrInside(dir, bundle) || ContainerPath.IsSameOrInside(bundle, dir)))
        {
            errors.Add(Strings.BundleDirectoryUnsafe, "OciImageDir", o.ImageDirectory, $"it is, holds or is inside OciBundleDir {bundle}, and each is replaced as a whole");
            dir = null;
        }

        string? archive = null;
        if (dir is not null && !string.IsNullOrWhiteSpace(o.ImageArchive))
        {
            string full = Path.GetFullPath(o.ImageArchive);
            string? inside = new[] { (dir, "OciImageDir"), (bundle ?? "", "OciBundleDir"), (publish, "the publish folder") }
                .Where(d => d.Item1.Length > 0 && ContainerPath.IsSameOrInside(full, d.Item1)).Select(d => d.Item2).FirstOrDefault();
            if (inside is not null)
            {
                errors.Add(Strings.ArchiveNotOurs, o.ImageArchive, $"is inside {inside}, which is replaced as a whole");
            }
            else if (OutputFolder.ProtectedReason(full, Array.Empty<string>()) is { } reason)
            {
                errors.Add(Strings.ArchiveNotOurs, o.ImageArchive, reason.Replace("it is", "is", StringComparison.Ordinal));
            }
            else if (OutputFolder.CheckArchive(full) is { } error)
            {
                errors.Add(error);
            }
            else
            {
                archive = full;
            }
        }

        string? registry = ImageName.ParseRegistry(o.ImageRegistry, errors);
        string repository = ImageName.ParseRepository(o.ImageRepository, errors) ?? "";
        if (registry is not null)
        {
            // The push reads them again; a bad one is the publish's mistake, found before the bundle or the layout is touched.
            ImageName.ParsePushTags(o.ImageTags, errors);
        }

        return dir is null ? null : new ImageSpec(dir, archive, tag, new Map(o.ImageLabels), new Seq<string>(ports), registry, repository, new Seq<string>(o.ImageDefaultArgs), compression, layering);
    }

    /// <summary><c>OciImageLayering</c>: <c>ByChangeRate</c> (packages, project references, content and the app's own files apart) or <c>SingleAppLayer</c>; any case.</summary>
    private static ImageLayering ParseLayering(string? text, ParseErrors errors)
    {
        string value = errors.Required(text, "OciImageLayering").Trim();
        foreach (ImageLayering known in Enum.GetValues<ImageLayering>())
        {
            if (value.Equals(known.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                return known;
            }
        }

        if (value.Length > 0)
        {
            errors.Add(Strings.InvalidImageLayering, text);
        }

        return ImageLayering.ByChangeRate;
    }
}
