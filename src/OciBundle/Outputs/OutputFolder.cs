using System.Formats.Tar;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Model;
using OciBundle.Model.Oci;
using OciBundle.Interop;
using OciBundle.Storage;

namespace OciBundle.Outputs;

/// <summary>What an output folder holds: a runtime bundle or an image layout.</summary>
internal enum OutputKind
{
    Bundle,
    Image,
}

/// <summary>
/// The rule that keeps a publish from destroying what it did not write. An output folder (<c>OciBundleDir</c>,
/// <c>OciImageDir</c>) is replaced as a whole, so it is replaced only when it is missing, empty, or holds the marker
/// file <see cref="MarkerName"/> the product writes into every output (product, kind, format version); an image
/// archive only when it is missing or a tar the product wrote. Anything else is a coded error, and nothing is touched.
/// System folders, the project, its <c>bin/</c> and <c>obj/</c> are refused even when empty.
/// </summary>
internal static class OutputFolder
{
    /// <summary>The marker file in every bundle and image layout the product writes.</summary>
    public const string MarkerName = ".ocibundle";

    /// <summary>The version of the marker's format; a folder with a newer one is left alone.</summary>
    public const int MarkerFormat = 1;

    private const string Product = "OciBundle.Sdk";

    // Folders of a Linux system (FHS), refused even when empty: an output folder is deleted and replaced as a whole.
    private static readonly HashSet<string> SystemFolders = new(StringComparer.Ordinal)
    {
        "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt", "/proc",
        "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/snap", "/nix", "/lost+found",
    };

    /// <summary>The entries an output of this kind holds at its top, all the product writes there.</summary>
    public static IReadOnlyCollection<string> Entries(OutputKind kind) => TopLevel(kind);

    /// <summary>
    /// The marker's text, as <see cref="Marker"/> writes it and reads it without a JSON parser (a JSON library's first
    /// use costs more than a no-op publish may): compact JSON of the product, the kind and <see cref="MarkerFormat"/>,
    /// which a unit test holds to what the serializer makes of <see cref="OutputMarker"/>.
    /// </summary>
    internal static string MarkerText(OutputKind kind) => kind == OutputKind.Bundle ? BundleMarkerText : ImageMarkerText;

    private static readonly string BundleMarkerText = MarkerTextOf(OutputKind.Bundle);
    private static readonly string ImageMarkerText = MarkerTextOf(OutputKind.Image);

    private static string MarkerTextOf(OutputKind kind) =>
        $"{{\"product\":\"{Product}\",\"kind\":\"{KindName(kind)}\",\"format\":{MarkerFormat.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}\n";

    /// <summary>The marker's bytes for an output of this kind.</summary>
    public static byte[] Marker(OutputKind kind) => System.Text.Encoding.UTF8.GetBytes(MarkerText(kind));

    // Trees of the system: nothing below them is ever an output folder.
    private static readonly string[] SystemTrees = { "/proc", "/sys", "/dev", "/run", "/boot", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/snap", "/nix" };

    /// <summary>What each kind of output holds at its top: a folder with anything else in it is not (only) ours.</summary>
    private static readonly string[] BundleTopLevel = { MarkerName, "config.json", WellKnownPaths.ProvenanceFile, WellKnownPaths.SbomFile, "rootfs" };
    private static readonly string[] ImageTopLevel = { MarkerName, "blobs", "index.json", "oci-layout" };

    // A switch, not a dictionary keyed by the enum: that is compiled on each publish.
    private static string[] TopLevel(OutputKind kind) => kind == OutputKind.Bundle ? BundleTopLevel : ImageTopLevel;

    /// <summary>
    /// Refuses a folder the product must never replace, whatever is in it: <c>/</c>, a system folder or anything in
    /// one, a folder directly in <c>/var</c> or <c>/home</c>, the home folder or one above it, and the project,
    /// <c>bin/</c>, <c>obj/</c> or one above them. Judged on the path as written and with its symlinks resolved, so
    /// <c>/tmp/link-to-home</c> is the home folder it is. Returns the reason, or null.
    /// </summary>
    public static string? ProtectedReason(string dir, IEnumerable<string> protectedFolders)
    {
        string? home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 1 } h ? Path.TrimEndingDirectorySeparator(h) : null;
        var folders = protectedFolders.Where(f => !string.IsNullOrWhiteSpace(f)).Select(f => Path.TrimEndingDirectorySeparator(Path.GetFullPath(f))).ToList();
        foreach (string path in new[] { dir, Resolved(dir) }.Distinct(StringComparer.Ordinal))
        {
            if (path == "/")
            {
                return "it is the root folder";
            }

            string parent = RootfsPlan.Parent(path);
            if (SystemFolders.Contains(path) || parent is "/var" or "/home" || SystemTrees.Any(t => ContainerPath.IsSameOrInside(path, t)))
            {
                return path == dir ? "it is a system folder" : $"it is the system folder {path}";
            }

            foreach (string folder in (home is null ? folders : folders.Append(home)).SelectMany(f => new[] { f, Resolved(f) }).Distinct(StringComparer.Ordinal))
            {
                if (ContainerPath.IsSameOrInside(folder, path))
                {
                    return folder == home ? $"it is or contains the home folder {home}" : $"it is or contains {folder}";
                }
            }
        }

        return null;
    }

    /// <summary>The path with the symlinks of its existing part resolved (realpath of the longest existing prefix).</summary>
    private static string Resolved(string path)
    {
        string existing = path;
        var rest = new Stack<string>();
        while (existing != "/" && NativeMethods.LStat(existing) is null)
        {
            rest.Push(Path.GetFileName(existing));
            existing = RootfsPlan.Parent(existing);
        }

        string real = NativeMethods.RealPath(existing) ?? existing;
        return rest.Aggregate(real, (p, name) => p == "/" ? "/" + name : p + "/" + name);
    }

    /// <summary>
    /// Whether the product may replace <paramref name="dir"/> with an output of <paramref name="kind"/>: null when it
    /// may, else the error (naming <paramref name="property"/> and what is there).
    /// </summary>
    public static OciBundleException? CheckReplaceable(string dir, string property, OutputKind kind)
    {
        NativeMethods.Statx? stat = NativeMethods.LStat(dir);
        if (stat is null)
        {
            return null;
        }

        uint type = stat.Value.Mode & NativeMethods.S_IFMT;
        if (type == NativeMethods.S_IFLNK)
        {
            return new OciBundleException(Strings.OutputPathNotAFolder, property, dir, $"a symlink (to {new FileInfo(dir).LinkTarget})");
        }

        if (type != NativeMethods.S_IFDIR)
        {
            return new OciBundleException(Strings.OutputPathNotAFolder, property, dir, type == NativeMethods.S_IFREG ? "a file" : "a special file");
        }

        string[] names;
        try
        {
            names = Directory.EnumerateFileSystemEntries(dir).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new OciBundleException(Strings.OutputDirectoryNotOurs, property, dir, "its contents cannot be listed: " + e.Message);
        }

        if (names.Length == 0)
        {
            return null;
        }

        string? marker = ReadMarkerKind(Path.Combine(dir, MarkerName), out int format);
        string[] foreign = names.Except(TopLevel(kind), StringComparer.Ordinal).ToArray();
        if (marker == KindName(kind) && format <= MarkerFormat && foreign.Length == 0 && OwnedByCaller(dir) && OwnedByCaller(Path.Combine(dir, MarkerName)))
        {
            return null;
        }

        if (marker == KindName(kind) && foreign.Length > 0)
        {
            return new OciBundleException(Strings.OutputDirectoryNotOurs, property, dir, $"besides an {KindName(kind)}, {Describe(foreign)}");
        }

        if (marker == KindName(kind) && format <= MarkerFormat)
        {
            // A marker anyone could have planted (a shared, sticky folder): trusted only from whoever runs the build.
            return new OciBundleException(Strings.OutputDirectoryNotOurs, property, dir, "a marker file, but the folder or the marker belongs to another user");
        }

        if (marker is null && OwnedByCaller(dir) && IsLegacyOutput(dir, names, kind))
        {
            return null;
        }

        string what = marker is null ? Describe(names)
            : marker == KindName(kind) ? $"an output of a newer OciBundle.Sdk (marker format {format})"
            : $"an {marker} written by OciBundle.Sdk, not an {KindName(kind)}";
        return new OciBundleException(Strings.OutputDirectoryNotOurs, property, dir, what);
    }

    /// <summary>Whether an image archive may be replaced: null when it is missing or a tar the product wrote.</summary>
    public static OciBundleException? CheckArchive(string path)
    {
        NativeMethods.Statx? stat = NativeMethods.LStat(path);
        if (stat is null)
        {
            return null;
        }

        uint type = stat.Value.Mode & NativeMethods.S_IFMT;
        if (type != NativeMethods.S_IFREG)
        {
            return new OciBundleException(Strings.ArchiveNotOurs, path, type switch
            {
                NativeMethods.S_IFLNK => "is a symlink",
                NativeMethods.S_IFDIR => "is a folder",
                _ => "is a special file",
            });
        }

        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var tar = new TarReader(file);
            TarEntry? first = tar.GetNextEntry(copyData: false);
            if (first is { Name: MarkerName, DataStream: { } data } && first.Length < 4096 && OwnedByCaller(path))
            {
                using var reader = new StreamReader(data);
                if (ParseMarker(reader.ReadToEnd(), out int format) == KindName(OutputKind.Image) && format <= MarkerFormat)
                {
                    return null;
                }
            }
            // An archive without the marker (1.0 wrote none) is not recognised: it could be any tool's image.
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException or UnauthorizedAccessException)
        {
            // Not a tar: not ours.
        }

        return new OciBundleException(Strings.ArchiveNotOurs, path, "exists and is not an image archive OciBundle.Sdk wrote");
    }

    /// <summary>
    /// <c>dotnet clean</c>: removes an output folder or archive only when it holds what the product wrote there (its
    /// marker), never a folder that merely has the name. Returns what was removed (null: nothing), or throws the
    /// reason an existing folder or archive is not the product's to remove, which clean reports as a warning.
    /// </summary>
    public static string? RemoveIfOurs(string path, OutputKind? kind)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (ProtectedReason(full, Array.Empty<string>()) is not null)
        {
            return null; // a system folder or the project: never an output, nothing to say
        }

        bool exists = NativeMethods.LStat(full) is not null;
        if (kind is { } folderKind)
        {
            if (!exists || (Directory.Exists(full) && !Directory.EnumerateFileSystemEntries(full).Any()))
            {
                // No output (a first publish killed before it finished, say): its staging folder and lock may still be there.
                return StagedDirectory.ForgetIfIdle(full, folderKind);
            }

            if (CheckReplaceable(full, folderKind == OutputKind.Bundle ? "OciBundleDir" : "OciImageDir", folderKind) is { } notOurs)
            {
                throw notOurs;
            }

            if (StagedDirectory.RemoveOutput(full, folderKind) is { } kept)
            {
                throw new IOException(kept);
            }

            return full;
        }

        if (!exists)
        {
            return null;
        }

        if (CheckArchive(full) is { } foreign)
        {
            throw foreign;
        }

        File.Delete(full);
        return full;
    }

    /// <summary>The path belongs to the user running the build (root trusts only what root owns).</summary>
    private static bool OwnedByCaller(string path) => NativeMethods.LStat(path) is { } st && st.Uid == NativeMethods.getuid();

    private static string KindName(OutputKind kind) => kind == OutputKind.Bundle ? "OCI bundle" : "OCI image layout";

    private static string? ReadMarkerKind(string path, out int format)
    {
        format = 0;
        try
        {
            var info = new FileInfo(path);
            return info.Exists && info.LinkTarget is null && info.Length < 4096 ? ParseMarker(File.ReadAllText(path), out format) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? ParseMarker(string text, out int format)
    {
        // The markers this version writes, compared as text: checked on every publish, and a JSON parser's first
        // use costs more than the whole no-op publish may.
        foreach (OutputKind kind in new[] { OutputKind.Bundle, OutputKind.Image })
        {
            if (text == MarkerText(kind))
            {
                format = MarkerFormat;
                return KindName(kind);
            }
        }

        format = 0;
        try
        {
            // The format must be an integer as written (not "1", nor 1.0) and one an int holds.
            if (OciJson.Deserialize<OutputMarker>(System.Text.Encoding.UTF8.GetBytes(text)) is { Product: Product, Format: long written } marker && written is >= int.MinValue and <= int.MaxValue)
            {
                format = (int)written;
                return marker.Kind;
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    /// <summary>
    /// An output of OciBundle.Sdk 1.0, which wrote no marker: a bundle with exactly config.json, provenance.json (in
    /// its format) and rootfs; an image layout with exactly oci-layout, index.json and blobs whose config says it was
    /// created by OciBundle.Sdk.
    /// </summary>
    private static bool IsLegacyOutput(string dir, string[] names, OutputKind kind)
    {
        try
        {
            if (kind == OutputKind.Bundle)
            {
                if (!names.SequenceEqual(new[] { "config.json", WellKnownPaths.ProvenanceFile, "rootfs" }))
                {
                    return false;
                }

                using var reader = new JsonTextReader(File.OpenText(Path.Combine(dir, WellKnownPaths.ProvenanceFile)));
                return JToken.ReadFrom(reader) is JObject p && (int?)p["schemaVersion"] == 1 && p["fileCount"] is not null && p["files"] is JArray;
            }

            if (!names.SequenceEqual(new[] { "blobs", "index.json", "oci-layout" }))
            {
                return false;
            }

            var store = new BlobStore(dir);
            OciIndex index = OciJson.Deserialize<OciIndex>(BlobStore.ReadSmallFile(Path.Combine(dir, "index.json")));
            string manifestDigest = index.Manifests.FirstOrDefault()?.Digest ?? throw new InvalidDataException("no manifest");
            OciManifest manifest = OciJson.Deserialize<OciManifest>(store.ReadDocument(manifestDigest));
            OciImageConfig config = OciJson.Deserialize<OciImageConfig>(store.ReadDocument(manifest.Config.Digest));
            return config.History is { Count: > 0 } history && history.All(h => h.CreatedBy?.StartsWith(Product + ": ", StringComparison.Ordinal) == true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidDataException or InvalidCastException or ArgumentException)
        {
            return false;
        }
    }

    private static string Describe(string[] names)
    {
        string shown = string.Join(", ", names.Take(5));
        return names.Length > 5 ? $"{shown} and {names.Length - 5} more" : shown;
    }
}

/// <summary>The <c>.ocibundle</c> marker: which product wrote an output, what kind it is, in which format.</summary>
internal sealed record OutputMarker
{
    [JsonProperty("product", Order = 1)]
    public string? Product { get; init; }

    [JsonProperty("kind", Order = 2)]
    public string? Kind { get; init; }

    /// <summary>An integer as written (a JSON string or fraction is not one).</summary>
    [JsonProperty("format", Order = 3)]
    public object? Format { get; init; }
}
