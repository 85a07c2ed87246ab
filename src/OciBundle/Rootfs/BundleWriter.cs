using OciBundle.Diagnostics;
using OciBundle.Outputs;
using OciBundle.State;
using OciBundle.Interop;
using OciBundle.Model;

namespace OciBundle.Rootfs;

/// <summary>
/// Writes a planned bundle so that the destination is, at every instant, either the previous complete bundle or
/// the new complete one:
/// <list type="number">
/// <item>a lock file beside the destination serialises publishes to the same folder (a second one waits);</item>
/// <item>leftovers of a killed publish (staging and old folders) are removed;</item>
/// <item>the new bundle is assembled in a staging folder beside the destination; a file whose source did not
///   change since the last publish, and a symlink as planned, is hard-linked from the previous bundle instead of
///   made again (between read-only roots only: see <see cref="Reuse"/>), and checked on its new name to be the very
///   inode checked in the old tree;</item>
/// <item>every path gets its planned mode and the fixed timestamp, in a fixed order;</item>
/// <item>staging and destination are exchanged with one <c>renameat2(RENAME_EXCHANGE)</c>, and the old tree is removed.</item>
/// </list>
/// </summary>
internal sealed class BundleWriter
{
    private readonly string _destination;
    private readonly long _epoch;
    private readonly TimeSpan _lockTimeout;
    private readonly BuildState? _previous;
    private readonly (uint Uid, uint Gid)? _owner;
    private readonly Action<OciBundleException>? _warn;
    private readonly FileCopier _copier = new();
    private (uint Uid, uint Gid) _desiredOwner;
    private (uint Uid, uint Gid)? _everyOwner;
    private bool _isRoot;
    private IReadOnlyDictionary<string, string>? _current;

    /// <param name="destination">The bundle folder.</param>
    /// <param name="epoch">Timestamp of every path (<c>SOURCE_DATE_EPOCH</c>).</param>
    /// <param name="previous">
    /// What the last publish wrote there and from what: a file is hard-linked from the previous bundle only when its
    /// source and planned mode are the same and the previous copy is still exactly as written (same inode, ctime,
    /// size, mode and owner, the owner this bundle wants); a symlink when it is as written and points where planned.
    /// Null: write everything.
    /// </param>
    /// <param name="lockTimeout">How long a second publish to the same folder waits for the first.</param>
    /// <param name="owner">
    /// Owner of every path, for a rootless bundle built by root for another user: the container's root is that user,
    /// so it owns its root file system as it would had it built the bundle itself. Applied only when running as root.
    /// </param>
    /// <param name="warn">Receives warnings (leftovers of earlier publishes that cannot be removed).</param>
    internal BundleWriter(string destination, long epoch, BuildState? previous = null, TimeSpan? lockTimeout = null, (uint Uid, uint Gid)? owner = null, Action<OciBundleException>? warn = null)
    {
        _owner = owner;
        _warn = warn;
        _destination = Path.TrimEndingDirectorySeparator(Path.GetFullPath(destination));
        _epoch = epoch;
        _lockTimeout = lockTimeout ?? TimeSpan.FromMinutes(5);
        _previous = previous?.Bundle?.Directory == _destination ? previous : null;
    }

    /// <summary>
    /// Give a folder the container-side owner the plan names (the app user's home), as root can. Only for a writable
    /// root: on a read-only one the app can write nothing there, and a folder of uid 1654 in rootfs would be one a host
    /// account with that uid could fill (certificates the app's user store trusts, files under the names the app
    /// reads). The image keeps the plan's owners: engines unpack it where no host user reaches.
    /// </summary>
    public bool ContainerOwners { get; init; } = true;

    /// <summary>
    /// Whether the previous bundle's untouched files and symlinks may be linked into this one. Not when a container may
    /// still be writing into the previous one (a writable root, now or in the options it was written with): a linked
    /// inode is shared with that tree until it is removed, and the container's writes would land in the new bundle.
    /// </summary>
    public bool Reuse { get; init; } = true;

    /// <summary>Receives what the write could not do as the plan says (a base image's owners, written by a user who cannot chown).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Counters of the last <see cref="Write"/>.</summary>
    public WriteStatistics Statistics { get; } = new();

    /// <summary>Writes the bundle; <paramref name="cancel"/> stops it before the swap, leaving the previous bundle.</summary>
    /// <param name="plan">What to write.</param>
    /// <param name="topLevelFiles">config.json and the like, beside rootfs.</param>
    /// <param name="cancel">Ctrl+C.</param>
    /// <param name="inputs">The identities the planner just recorded of its inputs, so reuse needs no second stat of each source.</param>
    public void Write(RootfsPlan plan, IReadOnlyDictionary<string, byte[]> topLevelFiles, CancellationToken cancel = default, IReadOnlyDictionary<string, string>? inputs = null)
    {
        _current = inputs;
        try
        {
            using var staged = new StagedDirectory(_destination, _lockTimeout, OutputKind.Bundle, _warn, _previous?.Bundle?.Entries.Keys.ToHashSet(StringComparer.Ordinal));
            WriteTree(plan, topLevelFiles, staged.StagingPath, cancel);
            cancel.ThrowIfCancellationRequested();
            staged.Commit();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.BundleWriteFailed, _destination, e.Message);
        }
    }

    private void WriteTree(RootfsPlan plan, IReadOnlyDictionary<string, byte[]> topLevelFiles, string staging, CancellationToken cancel)
    {
        Directory.CreateDirectory(staging);
        IReadOnlyCollection<string> top = WriteTopLevel(topLevelFiles, staging);
        string rootfs = Path.Combine(staging, "rootfs");
        string previousRootfs = Path.Combine(_destination, "rootfs");
        List<RootfsEntry> entries = plan.Entries.ToList();
        Statistics.Reset();
        bool isRoot = NativeMethods.getuid() == 0;
        (uint Uid, uint Gid)? owner = isRoot ? _owner : null;
        _desiredOwner = owner ?? (NativeMethods.getuid(), NativeMethods.getgid());
        (_isRoot, _everyOwner) = (isRoot, owner);

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
                new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount), CancellationToken = cancel },
                file => WriteFile(file, rootfs + file.Path, previousRootfs + file.Path));
        }
        catch (AggregateException e)
        {
            // Report the first failure as itself (an IOException becomes OCIB3003 above), not as a wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }

        foreach (RootfsEntry link in entries.Where(e => e.Kind == RootfsEntryKind.Symlink))
        {
            WriteLink(link, rootfs + link.Path, previousRootfs + link.Path);
        }

        foreach (RootfsEntry file in files)
        {
            if (OwnerOf(file) is { } o && NativeMethods.LStat(rootfs + file.Path) is { } now && (now.Uid != o.Uid || now.Gid != o.Gid))
            {
                Chown(rootfs + file.Path, o);
                if ((ModeOf(file) & SetIds) != 0)
                {
                    File.SetUnixFileMode(rootfs + file.Path, ModeOf(file)); // the chown cleared them
                }
            }
        }

        LogLostOwners(entries);

        // Modes, owners and times of directories last, deepest first: writing into a directory changes its mtime.
        FinishDirectories(entries, rootfs);
        foreach (string name in top)
        {
            NativeMethods.SetTimes(Path.Combine(staging, name), _epoch);
        }

        NativeMethods.SetTimes(staging, _epoch);
        if (BaseOwnersApplied && entries.Any(e => e.FromBaseLayers))
        {
            // The base's setuid and setgid files, its daemons' folders and group-writable ones (/var/mail) are its
            // owners' on this machine too: only root may enter the bundle, as only root enters an engine's store.
            File.SetUnixFileMode(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>config.json and the like, beside rootfs, with the marker that makes the folder ours; their names.</summary>
    private static IReadOnlyCollection<string> WriteTopLevel(IReadOnlyDictionary<string, byte[]> topLevelFiles, string staging)
    {
        var top = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string name in topLevelFiles.Keys)
        {
            top[name] = topLevelFiles[name];
        }

        top[OutputFolder.MarkerName] = OutputFolder.Marker(OutputKind.Bundle); // ours, whatever was handed in

        string[] names = top.Keys.ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        foreach (string name in names)
        {
            string path = Path.Combine(staging, name);
            File.WriteAllBytes(path, top[name]);
            File.SetUnixFileMode(path, (UnixFileMode)0b110_100_100);
        }

        return names;
    }

    /// <summary>Every directory's owner, mode (after the owner: a chown may clear setgid) and time, deepest first.</summary>
    private void FinishDirectories(List<RootfsEntry> entries, string rootfs)
    {
        foreach (RootfsEntry dir in entries.Where(e => e.Kind == RootfsEntryKind.Directory).Reverse())
        {
            string path = rootfs + (dir.Path == "/" ? "" : dir.Path);
            Chown(path, OwnerOf(dir));
            File.SetUnixFileMode(path, ModeOf(dir));
            NativeMethods.SetTimes(path, _epoch);
        }
    }

    private const UnixFileMode SetIds = UnixFileMode.SetUser | UnixFileMode.SetGroup;

    /// <summary>
    /// Whom a path is given to: for a rootless bundle built by root, everything to the user the container's root is;
    /// as root, a base image's path to its layer's owner and group (the image has them, read-only root or not), the app
    /// user's home to that user on a writable root; null: left to whoever writes (root, or a user who cannot chown).
    /// </summary>
    private (uint Uid, uint Gid)? OwnerOf(RootfsEntry e) =>
        _everyOwner ?? (_isRoot && (e.FromBaseLayers || e.Kind == RootfsEntryKind.Directory && e.OwnerId is not null && ContainerOwners)
            ? ((uint)(e.OwnerId ?? 0), (uint)(e.GroupId ?? e.OwnerId ?? 0))
            : null);

    /// <summary>Whether a base image's paths get the owners its layers say: only when root writes a bundle run as root.</summary>
    private bool BaseOwnersApplied => _isRoot && _everyOwner is null;

    /// <summary>
    /// A path's mode as written. A base image's path whose owners are not applied (see <see cref="BaseOwnersApplied"/>)
    /// loses its setuid and setgid bits, which would lend the identity of whoever owns the copy to anyone on the build
    /// machine who runs it, and write for its group or others unless it is a sticky folder (the copy's group is not
    /// the base's); it stays readable (and a folder writable) by its owner, as the sysroot cache unpacked it, so the
    /// writer can read and remove what it wrote. The product's own modes are written as planned.
    /// </summary>
    private UnixFileMode ModeOf(RootfsEntry e)
    {
        if (!e.FromBaseLayers || BaseOwnersApplied)
        {
            return e.Mode;
        }

        UnixFileMode mode = e.Mode & ~SetIds;
        if (e.Kind != RootfsEntryKind.Directory)
        {
            return mode & ~(UnixFileMode.GroupWrite | UnixFileMode.OtherWrite) | UnixFileMode.UserRead;
        }

        mode |= UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        return (mode & UnixFileMode.StickyBit) != 0 ? mode : mode & ~(UnixFileMode.GroupWrite | UnixFileMode.OtherWrite);
    }

    /// <summary>Says how many of a base image's paths were written without the owners or special bits its layers give (not root, or a rootless bundle).</summary>
    private void LogLostOwners(List<RootfsEntry> entries)
    {
        if (BaseOwnersApplied || Log is null)
        {
            return;
        }

        int differ = entries.Count(e => e.FromBaseLayers && (ModeOf(e) != e.Mode || (e.OwnerId ?? 0) != 0 || (e.GroupId ?? 0) != 0));
        if (differ > 0)
        {
            string who = _everyOwner is { } o ? $"the rootless bundle's user {o.Uid}:{o.Gid}" : $"the user who wrote it ({_desiredOwner.Uid}:{_desiredOwner.Gid}), who cannot give files away";
            Log($"Bundle {_destination}: {differ} paths of the base image have another owner or a setuid, setgid or group-writable mode in its layers; in the bundle they belong to {who}, without those bits (the image keeps them as they are).");
        }
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
            if (IsUntouchedCopy(previous, file) is { } copy && File.ReadAllBytes(previous).AsSpan().SequenceEqual(file.Content) && Linked(previous, target, copy))
            {
                Statistics.AddLinked(file.Size);
                return; // a generated file (passwd, group) with the same bytes as last time
            }

            File.WriteAllBytes(target, file.Content);
            Statistics.AddWritten(file.Content.Length);
            File.SetUnixFileMode(target, file.Mode);
            NativeMethods.SetTimes(target, _epoch);
        }
        else if (SourceUnchanged(file) && IsUntouchedCopy(previous, file) is { } copy && Linked(previous, target, copy))
        {
            Statistics.AddLinked(file.Size);
        }
        else
        {
            _copier.Copy(file.SourcePath!, target, ModeOf(file), _epoch, file.SourceInode, file.PublicSource);
            Statistics.AddWritten(file.Size);
        }
    }

    /// <summary>
    /// A symlink: the previous bundle's, hard-linked, when it is untouched and points where the plan says (a new inode
    /// costs the file system far more than a new name for one: 223 links of the sample took 0.1-1 ms each to create,
    /// 0.02 ms to link); else made, given its owner and the epoch.
    /// </summary>
    private void WriteLink(RootfsEntry link, string target, string previous)
    {
        // link(2) names the symlink itself, never what it points to; its target is read again from the new name, which
        // only this writer can reach: a link swapped in the old tree after the check is never taken for the checked one.
        if (IsUntouchedLink(previous, link) is { } copy && Linked(previous, target, copy) && new FileInfo(target).LinkTarget == link.LinkTarget)
        {
            return;
        }

        if (NativeMethods.LStat(target) is not null)
        {
            File.Delete(target);
        }

        File.CreateSymbolicLink(target, link.LinkTarget!);
        Chown(target, OwnerOf(link));
        NativeMethods.SetTimes(target, _epoch);
    }

    /// <summary>
    /// The previous bundle's symlink is as the last publish left it (a symlink cannot change in place: another target
    /// or owner is a new inode or ctime) and has the owner and time this bundle wants; where it points is read once,
    /// from its new name, after the link (<see cref="WriteLink"/>).
    /// </summary>
    private NativeMethods.Statx? IsUntouchedLink(string previous, RootfsEntry link)
    {
        if (!Reuse || _previous?.Bundle is not { } recorded || !recorded.Entries.TryGetValue("rootfs" + link.Path, out string? identity))
        {
            return null;
        }

        NativeMethods.Statx? copy = NativeMethods.LStat(previous);
        return copy is { } c && (c.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFLNK && c.MTimeSeconds == _epoch
            && (OwnerOf(link) ?? _desiredOwner) is var wanted && c.Uid == wanted.Uid && c.Gid == wanted.Gid
            && NativeMethods.Identity(c) == identity ? c : null;
    }

    /// <summary>
    /// Links the previous bundle's <paramref name="previous"/> as <paramref name="target"/> and checks, on the new
    /// name, that it is the very inode checked (its type, owner, mode, size and time): another swapped into the old
    /// tree between the check and the link is removed again, and false makes the caller write the path itself.
    /// </summary>
    private static bool Linked(string previous, string target, NativeMethods.Statx checkedCopy)
    {
        if (NativeMethods.link(previous, target) != 0)
        {
            return false;
        }

        if (NativeMethods.LStat(target) is { } now && now.Inode == checkedCopy.Inode && now.DevMajor == checkedCopy.DevMajor && now.DevMinor == checkedCopy.DevMinor
            && now.Mode == checkedCopy.Mode && now.Uid == checkedCopy.Uid && now.Gid == checkedCopy.Gid && now.Size == checkedCopy.Size && now.MTimeSeconds == checkedCopy.MTimeSeconds)
        {
            return true;
        }

        File.Delete(target);
        return false;
    }

    /// <summary>The source of a file and its planned mode are what they were when the previous bundle was written.</summary>
    private bool SourceUnchanged(RootfsEntry file) =>
        _previous is not null && file.SourcePath is not null
        && _previous.Sources.TryGetValue(file.Path, out string? recorded) && recorded == BuildState.SourceRecord(file)
        && _previous.Inputs.TryGetValue("path " + file.SourcePath, out string? identity)
        && identity == (_current is not null && _current.TryGetValue("path " + file.SourcePath, out string? now) ? now : InputLedger.PathIdentity(file.SourcePath));

    /// <summary>
    /// The previous bundle's copy is exactly as the last publish left it (inode, ctime, size, mode, owner): nobody
    /// wrote, chmod-ed, chown-ed or replaced it since, it has this file's planned mode and size, and it belongs to the
    /// owner this bundle wants (a rootless bundle's files never pass into a root-run one, or the reverse).
    /// </summary>
    private NativeMethods.Statx? IsUntouchedCopy(string previous, RootfsEntry file)
    {
        if (!Reuse || _previous?.Bundle is not { } recorded || !recorded.Entries.TryGetValue("rootfs" + file.Path, out string? identity))
        {
            return null;
        }

        NativeMethods.Statx? copy = NativeMethods.LStat(previous);
        return copy is { } c && (c.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFREG && (long)c.Size == file.Size
            && c.MTimeSeconds == _epoch && (UnixFileMode)(c.Mode & 0xFFF) == ModeOf(file)
            && (OwnerOf(file) ?? _desiredOwner) is var wanted && c.Uid == wanted.Uid && c.Gid == wanted.Gid
            && NativeMethods.Identity(c) == identity ? c : null;
    }

}
