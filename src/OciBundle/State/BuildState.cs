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

    /// <summary>
    /// Whether the bundle was written with a read-only root (config.json's <c>root.readonly</c>): only then may the
    /// next publish link its files, as no container of it can write into them. False when unknown (an older state).
    /// </summary>
    public bool ReadOnlyRoot { get; set; }

    /// <summary>The time of the commit the project was built from, as git gave it ("id seconds"; a commit's time never changes), or null.</summary>
    public string? CommitDate { get; set; }

    /// <summary>The image archive's path and identity, when one was written.</summary>
    public string? ArchivePath { get; set; }

    public string? ArchiveIdentity { get; set; }

    /// <summary>For each rootfs file copied from the host: its source and planned mode (the source's identity is in <see cref="Inputs"/>).</summary>
    /// <remarks>Read from the file only when asked (a publish that found nothing changed never needs it).</remarks>
    public Dictionary<string, string> Sources
    {
        get => _sources ??= ReadDeferred().Sources;
        set => _sources = value;
    }

    /// <summary>The SBOM's digest of each source file, after the source's identity when it was hashed ("identity\tsha1 sha256").</summary>
    /// <remarks>Read from the file only when asked, as <see cref="Sources"/>.</remarks>
    public Dictionary<string, string> Digests
    {
        get => _digests ??= ReadDeferred().Digests;
        set => _digests = value;
    }

    private Dictionary<string, string>? _sources;
    private Dictionary<string, string>? _digests;

    /// <summary>The file this state was loaded from, for the parts <see cref="Load"/> left for later, and its identity then.</summary>
    private string? _deferredFrom;

    private string? _loadedIdentity;

    /// <summary>A state is a few hundred KiB; one much larger is not ours.</summary>
    private const long MaxBytes = 256L << 20;

    /// <summary>What the summary line says.</summary>
    public SummaryRecord Summary { get; set; } = new();

    public sealed class OutputRecord
    {
        public string Directory { get; set; } = "";

        /// <summary>Each path, relative to <see cref="Directory"/>, and its identity as written (saved in path order).</summary>
        public Dictionary<string, string> Entries { get; set; } = new(StringComparer.Ordinal);
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
    /// <remarks>
    /// The sources and digests (half the lines) are left in the file until asked for. A no-op publish runs inside
    /// MSBuild's process, whose first garbage collection after evaluation costs a hundred milliseconds: what this
    /// allocates decides whether that collection falls in the publish, so lines are parsed as bytes, and only the
    /// fields kept become strings.
    /// </remarks>
    public static BuildState? Load(string? path) => Parse(path, deferred: true);

    private static BuildState? Parse(string? path, bool deferred)
    {
        // A regular file of a sane size, or none: a FIFO or a link to a device in obj/ must not hang or exhaust the publish.
        if (path is null || Interop.NativeMethods.LStat(path) is not { } st || (st.Mode & Interop.NativeMethods.S_IFMT) != Interop.NativeMethods.S_IFREG || (long)st.Size > MaxBytes)
        {
            return null;
        }

        try
        {
            var state = new BuildState { Format = 0, _deferredFrom = deferred ? path : null, _loadedIdentity = Interop.NativeMethods.Identity(st) };
            if (!deferred)
            {
                state._sources = new(StringComparer.Ordinal);
                state._digests = new(StringComparer.Ordinal);
            }

            var fields = new string[6];
            foreach (ReadOnlyMemory<byte> lineMemory in Lines(path))
            {
                ReadOnlySpan<byte> line = lineMemory.Span;
                int tab = line.IndexOf((byte)'\t');
                ReadOnlySpan<byte> tag = tab < 0 ? line : line[..tab];
                if (deferred && (tag.SequenceEqual("source"u8) || tag.SequenceEqual("digest"u8)))
                {
                    continue;
                }

                if (Fields(line, fields) < 0)
                {
                    throw new FormatException("a line with more fields than any record has");
                }

                switch (fields[0])
                {
                    case "ocibundle-state": state.Format = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture); break;
                    case "key": state.Key = fields[1]; break;
                    case "input": state.Inputs[fields[1]] = fields[2]; break;
                    case "source": state._sources![fields[1]] = fields[2]; break;
                    case "digest": state._digests![fields[1]] = fields[2] + "\t" + fields[3]; break;
                    case "bundle": state.Bundle = new OutputRecord { Directory = fields[1] }; break;
                    case "bentry": state.Bundle!.Entries[fields[1]] = fields[2]; break;
                    case "image": state.Image = new OutputRecord { Directory = fields[1] }; break;
                    case "ientry": state.Image!.Entries[fields[1]] = fields[2]; break;
                    case "archive": state.ArchivePath = fields[1]; state.ArchiveIdentity = fields[2]; break;
                    case "root": state.ReadOnlyRoot = fields[1] == "read-only"; break;
                    case "commit": state.CommitDate = fields[1] + " " + fields[2]; break;
                    case "files": state.Summary.FileCount = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture); state.Summary.TotalBytes = long.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture); break;
                    case "arg": state.Summary.Args.Add(fields[1]); break;
                    case "manifest": state.Summary.ManifestDigest = fields[1]; break;
                    case "layer": state.Summary.Layers.Add(new LayerRecord { Name = fields[1], Digest = fields[2], Size = long.Parse(fields[3], System.Globalization.CultureInfo.InvariantCulture), DiffId = fields[4], Fingerprint = fields[5] }); break;
                }
            }

            return state.Format == CurrentFormat ? state : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or NullReferenceException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>The sources and digests <see cref="Load"/> left in the file; none when the file is no longer the one loaded (then files are copied and hashed again).</summary>
    private (Dictionary<string, string> Sources, Dictionary<string, string> Digests) ReadDeferred()
    {
        // The very file loaded (by identity), not one another publish of the same options wrote since.
        if (_deferredFrom is { } path && Parse(path, deferred: false) is { } full && full.Key == Key && full._loadedIdentity == _loadedIdentity)
        {
            _sources ??= full._sources!;
            _digests ??= full._digests!;
        }

        _deferredFrom = null;
        _sources ??= new(StringComparer.Ordinal);
        _digests ??= new(StringComparer.Ordinal);
        return (_sources, _digests);
    }

    /// <summary>The file's lines, without their newline, read through one 64 KiB buffer (a line longer than that gets a buffer of its own).</summary>
    private static IEnumerable<ReadOnlyMemory<byte>> Lines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        byte[] buffer = new byte[1 << 16];
        int start = 0, end = 0;
        while (true)
        {
            int newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                yield return buffer.AsMemory(start, newline);
                start += newline + 1;
                continue;
            }

            // No whole line left: move the rest to the front (growing the buffer for a long line) and read more.
            int rest = end - start;
            if (rest == buffer.Length)
            {
                if (buffer.Length >= MaxBytes)
                {
                    throw new FormatException("a line longer than any state has");
                }

                Array.Resize(ref buffer, buffer.Length * 2);
            }
            else
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, rest);
            }

            start = 0;
            end = rest;
            int read = stream.Read(buffer, end, buffer.Length - end);
            if (read == 0)
            {
                if (end > 0)
                {
                    yield return buffer.AsMemory(0, end);
                }

                yield break;
            }

            end += read;
        }
    }

    /// <summary>Splits a line at its tabs into <paramref name="fields"/> (unescaped); the count, or -1 when it has more than fit.</summary>
    private static int Fields(ReadOnlySpan<byte> line, string[] fields)
    {
        Array.Fill(fields, "");
        int count = 0;
        while (true)
        {
            if (count == fields.Length)
            {
                return -1;
            }

            int tab = line.IndexOf((byte)'\t');
            ReadOnlySpan<byte> field = tab < 0 ? line : line[..tab];
            string text = Encoding.UTF8.GetString(field);
            fields[count++] = field.IndexOf((byte)'\\') < 0 ? text : TabSeparated.Unescape(text);
            if (tab < 0)
            {
                return count;
            }

            line = line[(tab + 1)..];
        }
    }

    /// <summary>Written beside and renamed over, so a kill leaves the old state or the new one.</summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(full)!);

        // A name nobody can guess, created new (O_EXCL): a link planted in obj/ never makes a root build write elsewhere.
        // One publish of a project saves at a time (the project's lock): any other such file is a killed one's leftover.
        RemoveLeftovers(full);
        string temp = $"{full}.tmp-{Guid.NewGuid():N}";
        try
        {
            Write(temp);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp); // nothing when it was moved
        }
    }

    /// <summary>The temporary files of saves that were killed before their rename (regular files only, never through a link).</summary>
    private static void RemoveLeftovers(string full)
    {
        foreach (string leftover in System.IO.Directory.EnumerateFiles(Path.GetDirectoryName(full)!, Path.GetFileName(full) + ".tmp-*"))
        {
            if (Interop.NativeMethods.LStat(leftover) is { } st && (st.Mode & Interop.NativeMethods.S_IFMT) == Interop.NativeMethods.S_IFREG)
            {
                File.Delete(leftover);
            }
        }
    }

    private void Write(string temp)
    {
        using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        using (var w = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" })
        {
            void Line(params object[] fields) => w.WriteLine(string.Join('\t', fields.Select(x => TabSeparated.Escape(Convert.ToString(x, System.Globalization.CultureInfo.InvariantCulture) ?? ""))));
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
                    string[] paths = output.Entries.Keys.ToArray();
                    Array.Sort(paths, StringComparer.Ordinal);
                    foreach (string path in paths)
                    {
                        Line(entryTag, path, output.Entries[path]);
                    }
                }
            }

            if (ArchivePath is not null)
            {
                Line("archive", ArchivePath, ArchiveIdentity ?? "");
            }

            Line("root", ReadOnlyRoot ? "read-only" : "writable");
            if (CommitDate?.Split(' ') is [{ } commit, { } seconds])
            {
                Line("commit", commit, seconds);
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
    }

    /// <summary>
    /// The state after a plan was written: its inputs, the source and mode of each rootfs file, and the bundle folder
    /// exactly as it is now (to be taken after the swap and the removal of the previous tree, which change the ctime
    /// of the files the two shared).
    /// </summary>
    public static BuildState Record(string key, Model.RootfsPlan plan, InputLedger inputs, string? bundleDirectory)
    {
        var state = new BuildState { Key = key, Inputs = new Dictionary<string, string>(inputs.Entries, StringComparer.Ordinal) };
        foreach (Model.RootfsEntry file in plan.Entries.Where(e => e.Kind == Model.RootfsEntryKind.File && e.SourcePath is not null))
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
    public static string SourceRecord(Model.RootfsEntry file) => $"{file.SourcePath}\t{(int)file.Mode}";

    /// <summary>A stable key of a canonical text (the request as its records print it, with the host facts).</summary>
    public static string KeyOf(string canonical) =>
        "sha256:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))).ToLowerInvariant();

}
