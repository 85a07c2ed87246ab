using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json;

namespace OciBundle.State;

/// <summary>
/// What the last successful publish was made from and what it wrote, kept in <c>obj/</c> (never in the output, so
/// the output stays reproducible): the key of its options, the identity of every host input, the identity of every
/// path it wrote, the source each rootfs file was copied from, and the summary to print when nothing changed.
/// The engine owns the up-to-date check with it: nothing changed in, nothing changed out, nothing to do.
/// </summary>
internal sealed class BuildState
{
    /// <summary>The version of this file's format; another version is ignored (a full publish).</summary>
    public const int CurrentFormat = 1;

    public int Format { get; set; } = CurrentFormat;

    /// <summary>SHA-256 of the options and the host facts the plan depends on (product version, user, runtime location).</summary>
    public string Key { get; set; } = "";

    /// <summary>Every host input (<see cref="InputLedger"/>), and its identity then.</summary>
    public Dictionary<string, string> Inputs { get; set; } = new(StringComparer.Ordinal);

    public OutputRecord? Bundle { get; set; }

    public OutputRecord? Image { get; set; }

    /// <summary>The image archive's path and identity, when one was written.</summary>
    public string? ArchivePath { get; set; }

    public string? ArchiveIdentity { get; set; }

    /// <summary>For each rootfs file copied from the host: its source and planned mode (the source's identity is in <see cref="Inputs"/>).</summary>
    public Dictionary<string, string> Sources { get; set; } = new(StringComparer.Ordinal);

    /// <summary>What the summary line says.</summary>
    public SummaryRecord Summary { get; set; } = new();

    public sealed class OutputRecord
    {
        public string Directory { get; set; } = "";

        public SortedDictionary<string, string> Entries { get; set; } = new(StringComparer.Ordinal);
    }

    public sealed class SummaryRecord
    {
        public int FileCount { get; set; }
        public long TotalBytes { get; set; }
        public List<string> Args { get; set; } = new();
        public string? ManifestDigest { get; set; }
        public List<LayerRecord> Layers { get; set; } = new();
    }

    public sealed class LayerRecord
    {
        public string Name { get; set; } = "";
        public string Digest { get; set; } = "";
        public long Size { get; set; }
    }

    private static readonly JsonSerializerSettings Settings = new()
    {
        Formatting = Formatting.None,
        MissingMemberHandling = MissingMemberHandling.Ignore,
        NullValueHandling = NullValueHandling.Ignore,
    };

    /// <summary>The state of the last publish, or null when there is none (or it cannot be read: then everything is written).</summary>
    public static BuildState? Load(string? path)
    {
        if (path is null)
        {
            return null;
        }

        try
        {
            BuildState? state = JsonConvert.DeserializeObject<BuildState>(File.ReadAllText(path), Settings);
            return state?.Format == CurrentFormat ? state : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Written beside and renamed over, so a kill leaves the old state or the new one.</summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        // A name nobody can guess, created new (O_EXCL): a link planted in obj/ never makes a root build write elsewhere.
        string temp = $"{full}.tmp-{Guid.NewGuid():N}";
        using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(JsonConvert.SerializeObject(this, Settings));
        }

        File.Move(temp, full, overwrite: true);
    }

    /// <summary>
    /// The state after a plan was written: its inputs, the source and mode of each rootfs file, and the bundle folder
    /// exactly as it is now (to be taken after the swap and the removal of the previous tree, which change the ctime
    /// of the files the two shared).
    /// </summary>
    public static BuildState Record(string key, Rootfs.RootfsPlan plan, InputLedger inputs, string? bundleDirectory)
    {
        var state = new BuildState { Key = key, Inputs = new Dictionary<string, string>(inputs.Entries, StringComparer.Ordinal) };
        foreach (Rootfs.RootfsEntry file in plan.Entries.Where(e => e.Kind == Rootfs.RootfsEntryKind.File && e.SourcePath is not null))
        {
            state.Inputs.TryAdd("path " + file.SourcePath, InputLedger.PathIdentity(file.SourcePath!));
            state.Sources[file.Path] = SourceRecord(file);
        }

        if (bundleDirectory is not null)
        {
            string dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(bundleDirectory));
            state.Bundle = new OutputRecord { Directory = dir, Entries = OutputSnapshot.Take(dir) };
        }

        return state;
    }

    /// <summary>What <see cref="Sources"/> records for a file copied from the host: its source and planned mode.</summary>
    public static string SourceRecord(Rootfs.RootfsEntry file) => $"{file.SourcePath}\t{(int)file.Mode}";

    /// <summary>A stable key of any value that Newtonsoft.Json can write (the options, the host facts).</summary>
    public static string KeyOf(object value) =>
        "sha256:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(JsonConvert.SerializeObject(value, Formatting.None)))).ToLowerInvariant();
}
