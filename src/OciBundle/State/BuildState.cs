using System.Security.Cryptography;
using System.Text;

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
    public const int CurrentFormat = 3;

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

    /// <summary>The SBOM's digest of each source file, after the source's identity when it was hashed ("identity\tsha1 sha256").</summary>
    public Dictionary<string, string> Digests { get; set; } = new(StringComparer.Ordinal);

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

        /// <summary>The uncompressed tar's digest (the config's diff_id).</summary>
        public string DiffId { get; set; } = "";

        /// <summary>What the layer was made from (<c>ImageLayoutWriter.Fingerprint</c>); empty when unknown.</summary>
        public string Fingerprint { get; set; } = "";
    }

    /// <summary>The state of the last publish, or null when there is none (or it cannot be read: then everything is written).</summary>
    public static BuildState? Load(string? path)
    {
        if (path is null || !File.Exists(path))
        {
            return null;
        }

        try
        {
            // Tab-separated lines, read without a serializer: the file is read on every publish, and a no-op
            // publish has a budget of milliseconds.
            var state = new BuildState { Format = 0 };
            foreach (string line in File.ReadLines(path))
            {
                string[] f = line.Split('\t').Select(Unescape).ToArray();
                switch (f[0])
                {
                    case "ocibundle-state": state.Format = int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture); break;
                    case "key": state.Key = f[1]; break;
                    case "input": state.Inputs[f[1]] = f[2]; break;
                    case "source": state.Sources[f[1]] = f[2]; break;
                    case "digest": state.Digests[f[1]] = f[2] + "\t" + f[3]; break;
                    case "bundle": state.Bundle = new OutputRecord { Directory = f[1] }; break;
                    case "bentry": state.Bundle!.Entries[f[1]] = f[2]; break;
                    case "image": state.Image = new OutputRecord { Directory = f[1] }; break;
                    case "ientry": state.Image!.Entries[f[1]] = f[2]; break;
                    case "archive": state.ArchivePath = f[1]; state.ArchiveIdentity = f[2]; break;
                    case "files": state.Summary.FileCount = int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture); state.Summary.TotalBytes = long.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture); break;
                    case "arg": state.Summary.Args.Add(f[1]); break;
                    case "manifest": state.Summary.ManifestDigest = f[1]; break;
                    case "layer": state.Summary.Layers.Add(new LayerRecord { Name = f[1], Digest = f[2], Size = long.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture), DiffId = f[4], Fingerprint = f[5] }); break;
                }
            }

            return state.Format == CurrentFormat ? state : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or NullReferenceException or OverflowException)
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
        using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        using (var w = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" })
        {
            void Line(params object[] fields) => w.WriteLine(string.Join('\t', fields.Select(x => Escape(Convert.ToString(x, System.Globalization.CultureInfo.InvariantCulture) ?? ""))));
            Line("ocibundle-state", Format);
            Line("key", Key);
            foreach ((string k, string v) in Inputs)
            {
                Line("input", k, v);
            }

            foreach ((string k, string v) in Sources)
            {
                Line("source", k, v);
            }

            foreach ((string k, string v) in Digests)
            {
                string[] parts = v.Split('\t');
                Line("digest", k, parts[0], parts.Length > 1 ? parts[1] : "");
            }

            foreach ((string tag, string entryTag, OutputRecord? output) in new[] { ("bundle", "bentry", Bundle), ("image", "ientry", Image) })
            {
                if (output is not null)
                {
                    Line(tag, output.Directory);
                    foreach ((string k, string v) in output.Entries)
                    {
                        Line(entryTag, k, v);
                    }
                }
            }

            if (ArchivePath is not null)
            {
                Line("archive", ArchivePath, ArchiveIdentity ?? "");
            }

            Line("files", Summary.FileCount, Summary.TotalBytes);
            foreach (string arg in Summary.Args)
            {
                Line("arg", arg);
            }

            if (Summary.ManifestDigest is not null)
            {
                Line("manifest", Summary.ManifestDigest);
            }

            foreach (LayerRecord layer in Summary.Layers)
            {
                Line("layer", layer.Name, layer.Digest, layer.Size, layer.DiffId, layer.Fingerprint);
            }
        }

        File.Move(temp, full, overwrite: true);
    }

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal);

    private static string Unescape(string value)
    {
        if (!value.Contains('\\'))
        {
            return value;
        }

        var b = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length)
            {
                i++;
                b.Append(value[i] switch { 't' => '\t', 'n' => '\n', 'r' => '\r', _ => value[i] });
            }
            else
            {
                b.Append(value[i]);
            }
        }

        return b.ToString();
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
            if (!state.Inputs.ContainsKey("path " + file.SourcePath))
            {
                state.Inputs["path " + file.SourcePath] = InputLedger.PathIdentity(file.SourcePath!);
            }

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

    /// <summary>A stable key of a canonical text (the request as its records print it, with the host facts).</summary>
    public static string KeyOf(string canonical) =>
        "sha256:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))).ToLowerInvariant();

}
