using System.Diagnostics;
using OciBundle.Diagnostics;
using OciBundle.Output;
using OciBundle.Interop;

namespace OciBundle.Rootfs;

/// <summary>
/// A folder replaced as a whole, atomically: a lock file beside it serialises writers (a second one waits), leftovers
/// of a killed writer are removed, the new content is assembled in a staging folder beside the destination, and
/// <see cref="Commit"/> exchanges the two with one <c>renameat2(RENAME_EXCHANGE)</c>. Until then the destination is
/// untouched; disposing without committing removes the staging folder.
/// </summary>
internal sealed class StagedDirectory : IDisposable
{
    private readonly FileStream _lock;
    private readonly Action<OciBundleException>? _warn;
    private bool _committed;

    /// <param name="destination">The folder to replace.</param>
    /// <param name="lockTimeout">How long to wait for another writer.</param>
    /// <param name="kind">
    /// What the folder holds: checked again under the lock (another process may have put something there since the
    /// options were checked), so a folder the product did not write is never replaced.
    /// </param>
    /// <param name="warn">Receives a warning for each leftover that cannot be removed.</param>
    public StagedDirectory(string destination, TimeSpan lockTimeout, OutputKind kind, Action<OciBundleException>? warn = null)
    {
        _warn = warn;
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

        _lock = AcquireLock(lockTimeout);
        if (OutputFolder.CheckReplaceable(Destination, kind == OutputKind.Bundle ? "OciBundleDir" : "OciImageDir", kind) is { } refused)
        {
            _lock.Dispose();
            throw refused;
        }

        RemoveLeftovers();
        StagingPath = Path.Combine(Parent, $".{Name}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
    }

    public string Destination { get; }
    public string Parent { get; }
    public string Name { get; }
    public string StagingPath { get; }
    public string LockPath => Path.Combine(Parent, $".{Name}.lock");

    /// <summary>Puts the staged folder in place of the destination in one step, and removes the previous one.</summary>
    public void Commit()
    {
        if (!Directory.Exists(Destination) && !File.Exists(Destination))
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
            Remove(old);
            return;
        }

        _committed = true;
        Remove(StagingPath); // after an exchange it holds the previous content
    }

    public void Dispose()
    {
        if (!_committed)
        {
            Remove(StagingPath);
        }

        _lock.Dispose();
    }

    private FileStream AcquireLock(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                // FileShare.None takes an flock(LOCK_EX) on Unix: released by the kernel if the process dies.
                return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (clock.Elapsed < timeout && File.Exists(LockPath))
            {
                Thread.Sleep(100);
            }
            catch (IOException e) when (File.Exists(LockPath))
            {
                throw new OciBundleException(Strings.BundleLocked, Destination, LockPath, (int)timeout.TotalSeconds, e.Message);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new OciBundleException(Strings.BundleWriteFailed, Destination, e.Message);
            }
        }
    }

    /// <summary>Removes what a killed writer left: under the lock no other writer owns them.</summary>
    private void RemoveLeftovers()
    {
        foreach (string dir in Directory.EnumerateFileSystemEntries(Parent, $".{Name}.tmp-*").Concat(Directory.EnumerateFileSystemEntries(Parent, $".{Name}.old-*")))
        {
            Remove(dir);
        }
    }

    /// <summary>Removes a leftover, or says which one stays and why (an immutable file in it, a read-only mount).</summary>
    private void Remove(string path)
    {
        if (TryDelete(path) is { } error)
        {
            _warn?.Invoke(new OciBundleException(Strings.LeftoverNotRemoved, path, error));
        }
    }

    /// <summary>
    /// Deletes a file or folder tree without ever crossing into another mount (a folder someone bind-mounted into a
    /// bundle is left, with everything in it, as <c>rm --one-file-system</c> does); returns why something stayed, or null.
    /// </summary>
    internal static string? TryDelete(string path)
    {
        try
        {
            if (NativeMethods.LStat(path) is not { } top)
            {
                return null;
            }

            if ((top.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFDIR)
            {
                File.Delete(path);
                return null;
            }

            var mounts = new List<string>();
            DeleteTree(path, top, mounts);
            return mounts.Count == 0 ? null : $"a mount is inside it ({string.Join(", ", mounts)}), and what another mount holds is never deleted; unmount it, then remove the folder";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message; // the next writer tries again
        }
    }

    /// <summary>Removes what <paramref name="dir"/> holds on its own mount, then the folder if nothing is left in it.</summary>
    private static bool DeleteTree(string dir, NativeMethods.Statx self, List<string> mounts)
    {
        bool empty = true;
        foreach (string child in Directory.EnumerateFileSystemEntries(dir))
        {
            if (NativeMethods.LStat(child) is not { } st)
            {
                continue;
            }

            if ((st.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFDIR)
            {
                File.Delete(child);
            }
            else if (NativeMethods.IsMountPoint(st, self))
            {
                mounts.Add(child);
                empty = false;
            }
            else
            {
                empty &= DeleteTree(child, st, mounts);
            }
        }

        if (empty)
        {
            Directory.Delete(dir);
        }

        return empty;
    }

    /// <summary>
    /// Removes what killed or blocked publishes left beside <paramref name="destination"/>, when no other publish holds
    /// its lock (a publish with nothing to write still tidies up). Never waits.
    /// </summary>
    public static void RemoveLeftoversIfIdle(string destination, Action<OciBundleException>? warn)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(destination));
        string parent = Path.GetDirectoryName(full)!;
        string name = Path.GetFileName(full);
        string lockPath = Path.Combine(parent, $".{name}.lock");
        if (!File.Exists(lockPath) || !Directory.EnumerateFileSystemEntries(parent, $".{name}.tmp-*").Concat(Directory.EnumerateFileSystemEntries(parent, $".{name}.old-*")).Any())
        {
            return;
        }

        try
        {
            using var held = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            foreach (string dir in Directory.EnumerateFileSystemEntries(parent, $".{name}.tmp-*").Concat(Directory.EnumerateFileSystemEntries(parent, $".{name}.old-*")).ToList())
            {
                if (TryDelete(dir) is { } error)
                {
                    warn?.Invoke(new OciBundleException(Strings.LeftoverNotRemoved, dir, error));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Another publish holds the lock: it removes them itself.
        }
    }
}
