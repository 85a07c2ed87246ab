using Microsoft.Win32.SafeHandles;
using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Storage;

namespace OciBundle.Outputs;

/// <summary>
/// A folder replaced as a whole, atomically: a lock file beside it serialises writers (a second one waits), leftovers
/// of a killed writer are removed, the new content is assembled in a staging folder beside the destination, and
/// <see cref="Commit"/> exchanges the two with one <c>renameat2(RENAME_EXCHANGE)</c>. Until then the destination is
/// untouched; disposing without committing removes the staging folder. Old trees are removed by
/// <see cref="TreeRemover"/>: only what the product writes there, never through a symlink, never across a mount.
/// </summary>
internal sealed class StagedDirectory : IDisposable
{
    private readonly SafeFileHandle _lock;
    private readonly Action<OciBundleException>? _warn;
    private readonly OutputKind _kind;
    private readonly IReadOnlySet<string>? _written;
    private bool _committed;

    /// <param name="destination">The folder to replace.</param>
    /// <param name="lockTimeout">How long to wait for another writer.</param>
    /// <param name="kind">
    /// What the folder holds: checked again under the lock (another process may have put something there since the
    /// options were checked), so a folder the product did not write is never replaced.
    /// </param>
    /// <param name="warn">Receives a warning for each leftover that cannot be removed.</param>
    /// <param name="written">What the product wrote in the destination last time (relative paths), when known: anything else found in the old tree is kept.</param>
    public StagedDirectory(string destination, TimeSpan lockTimeout, OutputKind kind, Action<OciBundleException>? warn = null, IReadOnlySet<string>? written = null)
    {
        _warn = warn;
        _written = written;
        _kind = kind;
        Destination = Path.TrimEndingDirectorySeparator(Path.GetFullPath(destination));
        Parent = Path.GetDirectoryName(Destination)!;
        Name = Path.GetFileName(Destination);
        try
        {
            Directory.CreateDirectory(Parent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.BundleWriteFailed, Destination, e.Message);
        }

        _lock = Lock(Destination, lockTimeout) ?? throw new OciBundleException(Strings.BundleLocked, Destination, LockPathOf(Destination), (int)lockTimeout.TotalSeconds, "still held");
        try
        {
            if (OutputFolder.CheckReplaceable(Destination, kind == OutputKind.Bundle ? "OciBundleDir" : "OciImageDir", kind) is { } refused)
            {
                throw refused;
            }

            RemoveLeftovers(Destination, kind, _warn);
        }
        catch
        {
            _lock.Dispose();
            throw;
        }

        StagingPath = Path.Combine(Parent, $".{Name}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
    }

    public string Destination { get; }
    public string Parent { get; }
    public string Name { get; }
    public string StagingPath { get; }

    private static string LockPathOf(string destination) => Path.Combine(Path.GetDirectoryName(destination)!, $".{Path.GetFileName(destination)}.lock");

    /// <summary>Puts the staged folder in place of the destination in one step, and removes the previous one.</summary>
    public void Commit()
    {
        if (NativeMethods.LStat(Destination) is null)
        {
            Directory.Move(StagingPath, Destination);
        }
        else if (NativeMethods.renameat2(NativeMethods.AT_FDCWD, StagingPath, NativeMethods.AT_FDCWD, Destination, NativeMethods.RENAME_EXCHANGE) != 0)
        {
            // A file system without RENAME_EXCHANGE: two renames. A kill between them leaves the old content in
            // .<name>.old-*, which the next writer removes before it starts.
            string old = Path.Combine(Parent, $".{Name}.old-{Environment.ProcessId}-{Guid.NewGuid():N}");
            Directory.Move(Destination, old);
            Directory.Move(StagingPath, Destination);
            _committed = true;
            RemoveOld(old);
            return;
        }

        _committed = true;
        RemoveOld(StagingPath); // after an exchange it holds the previous content
    }

    /// <summary>
    /// Removes the previous output, keeping what the product did not write there (a file a container wrote into a
    /// writable root): that stays in a <c>.name.kept-*</c> folder beside it, named in a warning, never deleted.
    /// </summary>
    private void RemoveOld(string old)
    {
        string? kept;
        try
        {
            kept = TreeRemover.Remove(old, OutputFolder.Entries(_kind), _written);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            kept = e.Message;
        }

        if (kept is null)
        {
            return;
        }

        string keptPath = Path.Combine(Parent, $".{Name}.kept-{Guid.NewGuid():N}");
        try
        {
            Directory.Move(old, keptPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            keptPath = old;
        }

        _warn?.Invoke(new OciBundleException(Strings.LeftoverNotRemoved, keptPath, kept.Replace(old, keptPath, StringComparison.Ordinal)));
    }

    public void Dispose()
    {
        if (!_committed)
        {
            Remove(StagingPath, _kind, _warn);
        }

        _lock.Dispose();
    }

    /// <summary>
    /// Holds the lock of <paramref name="path"/> (<c>.name.lock</c> beside it, the same lock as an output's) until
    /// disposed: the project's state, so two publishes of one project run one after the other, the second seeing
    /// what the first wrote. Null when another publish held it for longer than <paramref name="timeout"/>; an
    /// <see cref="IOException"/> (the caller says which code) when its folder or file cannot be used.
    /// </summary>
    public static SafeFileHandle? LockFile(string path, TimeSpan timeout)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return FileLock.Acquire(LockPathOf(full), timeout);
    }

    /// <summary>The lock file <see cref="LockFile"/> takes for <paramref name="path"/>.</summary>
    public static string LockFilePath(string path) => LockPathOf(Path.GetFullPath(path));

    /// <summary>
    /// Takes the lock file beside <paramref name="destination"/> (<see cref="FileLock"/>: flock, released by the kernel if
    /// the process dies; a plain file of the caller's, never through a symlink), waiting up to <paramref name="timeout"/>;
    /// null when another holds it that long.
    /// </summary>
    private static SafeFileHandle? Lock(string destination, TimeSpan timeout)
    {
        try
        {
            return FileLock.Acquire(LockPathOf(destination), timeout);
        }
        catch (LockFileException e)
        {
            throw new OciBundleException(Strings.BundleWriteFailed, destination, e.Message);
        }
    }

    /// <summary>
    /// The staging and moved-aside folders of earlier publishes beside <paramref name="destination"/>: exactly the
    /// names this class makes (<c>.name.tmp-pid-guid</c>), of the user running the build.
    /// </summary>
    private static IEnumerable<string> Leftovers(string destination)
    {
        string parent = Path.GetDirectoryName(destination)!;
        string name = Path.GetFileName(destination);
        return Directory.EnumerateFileSystemEntries(parent, $".{name}.*")
            .Where(p => IsLeftoverName(Path.GetFileName(p), name) && NativeMethods.LStat(p) is { } st && st.Uid == NativeMethods.getuid())
            .ToList();
    }

    /// <summary><c>.name.tmp-PID-GUID</c> or <c>.name.old-PID-GUID</c> (GUID as 32 lower-case hex digits), exactly.</summary>
    private static bool IsLeftoverName(string candidate, string name)
    {
        string prefix = "." + name + ".";
        if (!candidate.StartsWith(prefix, StringComparison.Ordinal))
        {
            return false;
        }

        string rest = candidate[prefix.Length..];
        if (!rest.StartsWith("tmp-", StringComparison.Ordinal) && !rest.StartsWith("old-", StringComparison.Ordinal))
        {
            return false;
        }

        string[] parts = rest[4..].Split('-');
        return parts.Length == 2 && parts[0].Length > 0 && parts[0].All(char.IsAsciiDigit) && parts[1].Length == 32 && parts[1].All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');
    }

    /// <summary>Removes what killed writers left: under the lock no other writer owns them.</summary>
    private static void RemoveLeftovers(string destination, OutputKind kind, Action<OciBundleException>? warn)
    {
        foreach (string dir in Leftovers(destination))
        {
            Remove(dir, kind, warn);
        }
    }

    /// <summary>Removes an old tree of this kind (only the entries the product writes there), or says what stays and why.</summary>
    private static void Remove(string path, OutputKind kind, Action<OciBundleException>? warn)
    {
        if (TryDelete(path, kind) is { } error)
        {
            warn?.Invoke(new OciBundleException(Strings.LeftoverNotRemoved, path, error));
        }
    }

    /// <summary>Removes an old output tree of <paramref name="kind"/>; returns why something stayed, or null.</summary>
    internal static string? TryDelete(string path, OutputKind kind)
    {
        try
        {
            return TreeRemover.Remove(path, OutputFolder.Entries(kind));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message; // the next writer tries again
        }
    }

    /// <summary>
    /// Removes what killed or blocked publishes left beside <paramref name="destination"/>, when no other publish holds
    /// its lock (a publish with nothing to write still tidies up). Never waits.
    /// </summary>
    public static void RemoveLeftoversIfIdle(string destination, OutputKind kind, Action<OciBundleException>? warn)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(destination));
        if (!File.Exists(LockPathOf(full)) || !Leftovers(full).Any())
        {
            return;
        }

        try
        {
            using SafeFileHandle? held = Lock(full, TimeSpan.Zero);
            if (held is not null)
            {
                RemoveLeftovers(full, kind, warn);
            }
        }
        catch (OciBundleException)
        {
            // A lock file that is not ours: the next writer says so.
        }
    }

    /// <summary>
    /// <c>dotnet clean</c> where there is no output: the leftovers of a publish that never finished and the lock file,
    /// under the lock (when no publish holds it); the lock file name when something was removed, else null.
    /// </summary>
    public static string? ForgetIfIdle(string destination, OutputKind kind)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(destination));
        string lockPath = LockPathOf(full);
        if (NativeMethods.LStat(lockPath) is not { } st || (st.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG || st.Uid != NativeMethods.getuid())
        {
            return null;
        }

        using SafeFileHandle? held = Lock(full, TimeSpan.Zero);
        if (held is null)
        {
            return null; // a publish is writing it now
        }

        RemoveLeftovers(full, kind, null);
        File.Delete(lockPath);
        return lockPath;
    }

    /// <summary><c>dotnet clean</c>: removes an output of ours under its lock, the same way a publish removes an old one.</summary>
    public static string? RemoveOutput(string destination, OutputKind kind)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(destination));
        using SafeFileHandle held = Lock(full, TimeSpan.FromMinutes(5)) ?? throw new IOException($"another publish holds {LockPathOf(full)}");
        RemoveLeftovers(full, kind, null);
        string? kept = TryDelete(full, kind);
        if (kept is null)
        {
            File.Delete(LockPathOf(full)); // still held: a publish waiting for it sees it gone and takes a new one
        }

        return kept;
    }
}
