using OciBundle.Diagnostics;

namespace OciBundle.Rootfs;

/// <summary>
/// Writes a planned bundle so that the destination is, at every instant, either the previous complete bundle or
/// the new complete one:
/// <list type="number">
/// <item>a lock file beside the destination serialises publishes to the same folder (a second one waits);</item>
/// <item>leftovers of a killed publish (staging and old folders) are removed;</item>
/// <item>the new bundle is assembled in a staging folder beside the destination; a file whose source did not
///   change since the last publish is hard-linked from the previous bundle instead of copied;</item>
/// <item>every path gets its planned mode and the fixed timestamp, in a fixed order;</item>
/// <item>staging and destination are exchanged with one <c>renameat2(RENAME_EXCHANGE)</c>, and the old tree is removed.</item>
/// </list>
/// </summary>
public sealed class BundleWriter
{
    /// <summary>The timestamp of every path when <c>SOURCE_DATE_EPOCH</c> is not set: 1980-01-01T00:00:00Z, the earliest a zip or tar reader accepts everywhere.</summary>
    public const long DefaultEpoch = 315532800;

    private readonly string _destination;
    private readonly long _epoch;
    private readonly TimeSpan _lockTimeout;
    private readonly ReuseState? _state;
    private readonly (uint Uid, uint Gid)? _owner;
    private readonly FileCopier _copier = new();

    /// <param name="destination">The bundle folder.</param>
    /// <param name="sourceDateEpoch">Timestamp of every path; null for <see cref="DefaultEpoch"/>.</param>
    /// <param name="statePath">Where to remember what was copied, to reuse unchanged files next time; null: copy everything.</param>
    /// <param name="lockTimeout">How long a second publish to the same folder waits for the first.</param>
    /// <param name="owner">
    /// Owner of every path, for a rootless bundle built by root for another user: the container's root is that user,
    /// so it owns its root file system as it would had it built the bundle itself. Applied only when running as root.
    /// </param>
    public BundleWriter(string destination, long? sourceDateEpoch, string? statePath = null, TimeSpan? lockTimeout = null, (uint Uid, uint Gid)? owner = null)
    {
        _owner = owner;
        _destination = Path.TrimEndingDirectorySeparator(Path.GetFullPath(destination));
        _epoch = sourceDateEpoch ?? DefaultEpoch;
        _lockTimeout = lockTimeout ?? TimeSpan.FromMinutes(5);
        _state = statePath is null ? null : new ReuseState(statePath);
    }

    /// <summary>Counters of the last <see cref="Write"/>.</summary>
    public WriteStatistics Statistics { get; } = new();

    public void Write(RootfsPlan plan, IReadOnlyDictionary<string, byte[]> topLevelFiles)
    {
        using var staged = new StagedDirectory(_destination, _lockTimeout);
        try
        {
            WriteTree(plan, topLevelFiles, staged.StagingPath);
            staged.Commit();
            _state?.Save(plan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.BundleWriteFailed, _destination, e.Message);
        }
    }

    private void WriteTree(RootfsPlan plan, IReadOnlyDictionary<string, byte[]> topLevelFiles, string staging)
    {
        Directory.CreateDirectory(staging);
        foreach ((string name, byte[] content) in topLevelFiles.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            string path = Path.Combine(staging, name);
            File.WriteAllBytes(path, content);
            File.SetUnixFileMode(path, (UnixFileMode)0b110_100_100);
        }

        string rootfs = Path.Combine(staging, "rootfs");
        string previousRootfs = Path.Combine(_destination, "rootfs");
        List<RootfsEntry> entries = plan.Entries.ToList();
        Statistics.Reset();

        // Directories first (parents before children), then file contents in parallel, then links.
        foreach (RootfsEntry dir in entries.Where(e => e.Kind == RootfsEntryKind.Directory))
        {
            Directory.CreateDirectory(rootfs + (dir.Path == "/" ? "" : dir.Path));
        }

        var files = entries.Where(e => e.Kind == RootfsEntryKind.File).ToList();
        try
        {
            Parallel.ForEach(
                files,
                new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) },
                file => WriteFile(file, rootfs + file.Path, previousRootfs + file.Path));
        }
        catch (AggregateException e)
        {
            // Report the first failure as itself (an IOException becomes OCIB3003 above), not as a wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }

        bool isRoot = NativeMethods.getuid() == 0;
        (uint Uid, uint Gid)? owner = isRoot ? _owner : null;
        foreach (RootfsEntry link in entries.Where(e => e.Kind == RootfsEntryKind.Symlink))
        {
            File.CreateSymbolicLink(rootfs + link.Path, link.LinkTarget!);
            Chown(rootfs + link.Path, owner);
            NativeMethods.SetTimes(rootfs + link.Path, _epoch);
        }

        if (owner is not null)
        {
            foreach (RootfsEntry file in files)
            {
                Chown(rootfs + file.Path, owner);
            }
        }

        // Modes, owners and times of directories last, deepest first: writing into a directory changes its mtime.
        foreach (RootfsEntry dir in entries.Where(e => e.Kind == RootfsEntryKind.Directory).Reverse())
        {
            string path = rootfs + (dir.Path == "/" ? "" : dir.Path);
            File.SetUnixFileMode(path, dir.Mode);
            if (owner is not null)
            {
                Chown(path, owner);
            }
            else if (dir.OwnerId is int id && isRoot)
            {
                Chown(path, ((uint)id, (uint)id));
            }

            NativeMethods.SetTimes(path, _epoch);
        }

        foreach (string name in topLevelFiles.Keys)
        {
            NativeMethods.SetTimes(Path.Combine(staging, name), _epoch);
        }

        NativeMethods.SetTimes(staging, _epoch);
    }

    private static void Chown(string path, (uint Uid, uint Gid)? owner)
    {
        if (owner is { } o && NativeMethods.lchown(path, o.Uid, o.Gid) != 0)
        {
            throw new IOException($"Cannot change the owner of {path}: {System.Runtime.InteropServices.Marshal.GetLastPInvokeErrorMessage()}");
        }
    }

    private void WriteFile(RootfsEntry file, string target, string previous)
    {
        if (file.Content is not null)
        {
            if (_state is not null && IsUntouchedCopy(previous, file) && File.ReadAllBytes(previous).AsSpan().SequenceEqual(file.Content) && NativeMethods.link(previous, target) == 0)
            {
                Statistics.AddLinked(file.Size);
                return; // a generated file (passwd, group) with the same bytes as last time
            }

            File.WriteAllBytes(target, file.Content);
            Statistics.AddWritten(file.Content.Length);
        }
        else if (_state is not null && _state.SourceUnchanged(file) && IsUntouchedCopy(previous, file) && NativeMethods.link(previous, target) == 0)
        {
            Statistics.AddLinked(file.Size);
            return; // same inode as before: mode and time are already right
        }
        else
        {
            _copier.Copy(file.SourcePath!, target, file.Mode, _epoch);
            Statistics.AddWritten(file.Size);
            return;
        }

        File.SetUnixFileMode(target, file.Mode);
        NativeMethods.SetTimes(target, _epoch);
    }

    /// <summary>The previous bundle's copy has the planned size, mode and the fixed timestamp: nothing wrote to it since.</summary>
    private bool IsUntouchedCopy(string previous, RootfsEntry file)
    {
        NativeMethods.Statx? copy = NativeMethods.LStat(previous);
        return copy is { } c && (c.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFREG && (long)c.Size == file.Size
            && c.MTimeSeconds == _epoch && (UnixFileMode)(c.Mode & 0xFFF) == file.Mode;
    }

    /// <summary>
    /// What the last successful publish copied, and from what: a file whose source has the same path, size, mtime
    /// and inode, and whose copy in the previous bundle is untouched (size and fixed timestamp), is hard-linked
    /// instead of copied. Kept outside the bundle (in obj/) so the bundle itself stays reproducible.
    /// </summary>
    private sealed class ReuseState
    {
        private readonly string _path;
        private readonly Dictionary<string, string> _previous = new(StringComparer.Ordinal);

        public ReuseState(string path)
        {
            _path = path;
            try
            {
                foreach (string line in File.ReadLines(path))
                {
                    int tab = line.IndexOf('\t');
                    if (tab > 0)
                    {
                        _previous[line[..tab]] = line[(tab + 1)..];
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // No state: everything is copied.
            }
        }

        /// <summary>The file's source has the path, size, mtime, inode and planned mode it had when last copied.</summary>
        public bool SourceUnchanged(RootfsEntry file) =>
            file.SourcePath is not null && _previous.TryGetValue(file.Path, out string? recorded) && recorded == Fingerprint(file);

        public void Save(RootfsPlan plan)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
            string temp = _path + ".tmp";
            File.WriteAllLines(temp, plan.Entries.Where(e => e.Kind == RootfsEntryKind.File && e.SourcePath is not null).Select(e => $"{e.Path}\t{Fingerprint(e)}"));
            File.Move(temp, _path, overwrite: true);
        }

        private static string Fingerprint(RootfsEntry file)
        {
            NativeMethods.Statx? s = NativeMethods.LStat(file.SourcePath!);
            return s is { } st ? $"{file.SourcePath}\t{st.Size}\t{st.MTimeSeconds}.{st.MTimeNanoseconds}\t{st.Inode}\t{(int)file.Mode}" : "";
        }
    }
}

/// <summary>How much the last write copied and how much it reused.</summary>
public sealed class WriteStatistics
{
    private long _filesWritten, _bytesWritten, _filesLinked, _bytesLinked;

    public long FilesWritten => Interlocked.Read(ref _filesWritten);
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);
    public long FilesLinked => Interlocked.Read(ref _filesLinked);
    public long BytesLinked => Interlocked.Read(ref _bytesLinked);

    internal void Reset() => _filesWritten = _bytesWritten = _filesLinked = _bytesLinked = 0;

    internal void AddWritten(long bytes)
    {
        Interlocked.Increment(ref _filesWritten);
        Interlocked.Add(ref _bytesWritten, bytes);
    }

    internal void AddLinked(long bytes)
    {
        Interlocked.Increment(ref _filesLinked);
        Interlocked.Add(ref _bytesLinked, bytes);
    }
}
