using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;
using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Model.Oci;
using OciBundle.State;
using OciBundle.Storage;

namespace OciBundle.Sysroots;

/// <summary>What an entry says of itself: the digest it was made from, the image's architecture, every path's identity.</summary>
internal sealed record EntryMarker(string Digest, string Architecture, IReadOnlyDictionary<string, string> Entries);

/// <summary>
/// The content-addressed cache of unpacked sysroots (<c>OciBundleSysrootCache/&lt;sha256&gt;/rootfs</c>, shared by every
/// project): an entry is filled in a staging folder beside it under its lock (<see cref="FileLock"/>), renamed into
/// place in one step, and checked each time it is used, against the digest it was made from and the identity of every
/// path as it was written (a changed, added or removed file makes it unpacked again). Trusted only under the per-user
/// cache rule (<see cref="CacheTrust"/>, its group allowed to write the cache folder). It holds unpacked trees and, for
/// an image pulled or read from an archive, its layout (<c>layout/</c>: the blobs as they came, the layers an image built
/// on it starts with); a layout folder's blobs stay where they are, read through its <see cref="BlobStore"/>. Beside
/// <c>rootfs/</c>, <see cref="HeaderOwnershipRecord"/> keeps what the tree cannot (owners, setuid, setgid), checked by
/// its digest in the marker.
/// </summary>
internal sealed class SysrootUnpackCache
{
    private const string MarkerName = "ocibundle-sysroot.txt";

    // 3: layers checked against the config's diff_ids; 4: an image's layout (its blobs) kept beside rootfs, for
    // OciImageBase; 5: every path's owner, group and full mode as its tar header says (ownership.tsv, its digest in the
    // marker), which rootfs cannot keep. An entry of an earlier format is unpacked again, once.
    private const string MarkerHeader = "ocibundle-sysroot 5";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(10);

    private readonly string _cache;
    private readonly Action<string> _log;

    public SysrootUnpackCache(string cache, Action<string> log)
    {
        _cache = cache;
        _log = log;
    }

    /// <summary>The folder of the entry for <paramref name="digest"/>.</summary>
    public string EntryOf(string digest) => Path.Combine(_cache, OciDigest.Hex(digest));

    /// <summary>The root file system of the entry for <paramref name="digest"/>.</summary>
    public string RootOf(string digest) => Path.Combine(EntryOf(digest), "rootfs");

    /// <summary>The verified entry for <paramref name="key"/>, unpacked by <paramref name="fill"/> first when it is missing or damaged.</summary>
    public EntryMarker Ensure(string key, string source, Func<string, (string Digest, string Architecture)> fill)
    {
        string entry = EntryOf(key);
        try
        {
            Directory.CreateDirectory(_cache);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.SysrootCacheFailed, _cache, e.Message.TrimEnd('.'));
        }

        CheckPrivate(NativeMethods.RealPath(_cache) ?? _cache, isCache: true);
        CheckPrivate(entry, isCache: false);
        if (Verified(entry, key) is { } hit)
        {
            return hit;
        }

        using SafeFileHandle held = Lock(OciDigest.Hex(key));
        CheckPrivate(entry, isCache: false);
        return Verified(entry, key) ?? Fill(key, entry, source, fill); // another publish may have unpacked it while this one waited
    }

    /// <summary>Unpacks the entry under the lock: leftovers and a damaged entry removed, a private staging folder filled, its marker written, renamed into place.</summary>
    private EntryMarker Fill(string key, string entry, string source, Func<string, (string Digest, string Architecture)> fill)
    {
        string hex = OciDigest.Hex(key);
        string stage = Path.Combine(_cache, $".{hex}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            foreach (string leftover in Directory.EnumerateDirectories(_cache, $".{hex}.*"))
            {
                RemoveTree(leftover); // a killed publish's staging folder, or a damaged entry moved aside (the lock is ours)
            }

            if (NativeMethods.LStat(entry) is not null)
            {
                _log($"Sysroot cache entry {entry} is damaged or incomplete: unpacking it again.");
                string aside = Path.Combine(_cache, $".{hex}.old-{Guid.NewGuid():N}");
                Directory.Move(entry, aside);
                RemoveTree(aside);
            }

            // The builder's alone: a file the archive made world-writable cannot be changed by another user between
            // the entry's check and the copy into a bundle, for nobody else can reach it.
            Directory.CreateDirectory(stage, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var clock = Stopwatch.StartNew();
            (string digest, string architecture) = fill(stage);
            SortedDictionary<string, string> snapshot = OutputSnapshot.TakeSorted(Path.Combine(stage, "rootfs"));
            WriteMarker(Path.Combine(stage, MarkerName), (key, digest, architecture, OwnershipDigest(stage)), source, snapshot);
            Directory.Move(stage, entry);
            _log($"Sysroot {source}: unpacked into {entry} ({snapshot.Count} paths) in {clock.ElapsedMilliseconds} ms.");
            return new EntryMarker(digest, architecture, snapshot);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            RemoveTree(stage);
            throw new OciBundleException(Strings.SysrootCacheFailed, _cache, e.Message.TrimEnd('.'));
        }
        catch
        {
            RemoveTree(stage);
            throw;
        }
    }

    /// <summary>
    /// The cache (its links followed) and an entry in it (not followed) must be trusted by the per-user cache rule: whoever
    /// could write there could plant a root file system under a digest's name with a marker of their own.
    /// </summary>
    private void CheckPrivate(string path, bool isCache)
    {
        if (CacheTrust.Distrust(path, groupMayWrite: true) is { } why)
        {
            throw new OciBundleException(Strings.SysrootCacheNotPrivate, _cache, isCache ? "is " + why : $"has an entry {path} that is {why}");
        }
    }

    /// <summary>The entry's marker, when it names <paramref name="key"/> (an entry moved or copied to another digest's name is not that digest's) and every path is as unpacked.</summary>
    private EntryMarker? Verified(string entry, string key)
    {
        if (ReadMarker(Path.Combine(entry, MarkerName)) is not { } read)
        {
            return null;
        }

        (string keyed, string digest, string architecture, string ownership, Dictionary<string, string> entries) = read;
        if (keyed != key)
        {
            _log($"Sysroot cache entry {entry} was unpacked from {(keyed.Length == 0 ? "an unknown archive" : keyed)}, not {key}.");
            return null;
        }

        var clock = Stopwatch.StartNew();
        if (!OciDigest.IsSha256(digest) || OutputSnapshot.FirstChange(Path.Combine(entry, "rootfs"), entries) is not null || OwnershipDigest(entry) != ownership)
        {
            _log($"Sysroot cache entry {entry} does not match what was unpacked there{(OciDigest.IsSha256(digest) ? "" : " (no digest)")}.");
            return null;
        }

        _log($"Sysroot cache entry {entry}: {entries.Count} paths as unpacked (checked in {clock.ElapsedMilliseconds} ms).");
        return new EntryMarker(digest, architecture, entries);
    }

    /// <summary>The digest of the entry's record of owners and modes (<see cref="HeaderOwnershipRecord"/>); "" when it has none.</summary>
    private static string OwnershipDigest(string entry)
    {
        string record = Path.Combine(entry, HeaderOwnershipRecord.FileName);
        if (!File.Exists(record))
        {
            return "";
        }

        try
        {
            using var stream = new FileStream(record, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            return "sha256:" + Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unreadable";
        }
    }

    /// <summary>A marker's key, digest, architecture, ownership record's digest and paths; null when it is missing, of another version or unreadable.</summary>
    private static (string Key, string Digest, string Architecture, string Ownership, Dictionary<string, string> Entries)? ReadMarker(string markerPath)
    {
        if (!File.Exists(markerPath))
        {
            return null;
        }

        string digest = "", architecture = "", keyed = "", ownership = "";
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var lines = File.ReadLines(markerPath).GetEnumerator();
            if (!lines.MoveNext() || lines.Current != MarkerHeader)
            {
                return null;
            }

            while (lines.MoveNext())
            {
                string[] f = lines.Current.Split('\t');
                switch (f[0])
                {
                    case "key": keyed = f[1]; break;
                    case "digest": digest = f[1]; break;
                    case "architecture": architecture = f[1]; break;
                    case "ownership": ownership = f[1]; break;
                    case "entry": entries[TabSeparated.Unescape(f[1])] = f[2]; break;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
            return null;
        }

        return (keyed, digest, architecture, ownership, entries);
    }

    /// <summary>A path on one marker line: backslash, tab, newline and carriage return written as \\, \t, \n and \r (a name may hold any of them).</summary>
    private static void WriteMarker(string path, (string Key, string Digest, string Architecture, string Ownership) made, string source, IReadOnlyDictionary<string, string> snapshot)
    {
        var text = new StringBuilder();
        text.Append(MarkerHeader).Append('\n');
        text.Append("key\t").Append(made.Key).Append('\n');
        text.Append("digest\t").Append(made.Digest).Append('\n');
        text.Append("architecture\t").Append(made.Architecture).Append('\n');
        text.Append("ownership\t").Append(made.Ownership).Append('\n');
        text.Append("source\t").Append(source.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ')).Append('\n');
        foreach ((string p, string identity) in snapshot)
        {
            text.Append("entry\t").Append(TabSeparated.Escape(p)).Append('\t').Append(identity).Append('\n');
        }

        File.WriteAllText(path, text.ToString(), new UTF8Encoding(false));
    }

    private static void RemoveTree(string path)
    {
        try
        {
            if (NativeMethods.LStat(path) is { } s && (s.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR)
            {
                UnpackRoot.MakeWritable(path);
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // left for the next writer, which removes leftovers under the lock
        }
    }

    /// <summary>One writer per entry across processes; a waiter finds the entry filled when it gets the lock.</summary>
    private SafeFileHandle Lock(string hex)
    {
        string path = Path.Combine(_cache, $".{hex}.lock");
        try
        {
            return FileLock.Acquire(path, LockTimeout)
                ?? throw new OciBundleException(Strings.SysrootCacheFailed, _cache, $"the lock file {path} is held by another publish for longer than {LockTimeout.TotalMinutes} minutes");
        }
        catch (LockFileException e)
        {
            throw new OciBundleException(Strings.SysrootCacheFailed, _cache, e.Message);
        }
    }

    /// <summary>
    /// The digest of an archive hashed before, while it is the same file: known by its path and full identity (inode,
    /// size, mtime and ctime to the nanosecond, which any write changes), as the up-to-date check knows its inputs. So a
    /// publish after an app change does not read a 150 MB tarball again; a new or rewritten file is hashed. The record is
    /// trusted only by the per-user cache rule (the folder and the file), as the entries are.
    /// </summary>
    public string? KnownDigest(string file)
    {
        try
        {
            string folder = Path.Combine(_cache, ".identities");
            string record = Path.Combine(folder, IdentityKey(file));
            return CacheTrust.Distrust(folder, groupMayWrite: true) is null && CacheTrust.Distrust(record, groupMayWrite: false, isFile: true) is null
                && File.ReadAllText(record).Trim() is { } digest && OciDigest.IsSha256(digest) && Directory.Exists(EntryOf(digest)) ? digest : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Remembers the digest of an archive by its identity (a file only its owner may write); a failure only costs a hash next time.</summary>
    public void RememberDigest(string file, string digest)
    {
        try
        {
            string folder = Path.Combine(_cache, ".identities");
            Directory.CreateDirectory(folder);
            string record = Path.Combine(folder, IdentityKey(file));
            string temp = $"{record}.tmp-{Guid.NewGuid():N}";
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(Encoding.UTF8.GetBytes(digest + "\n"));
            }

            File.Move(temp, record, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // only a shortcut: the next publish hashes the file again
        }
    }

    private static string IdentityKey(string file) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(file + "\n" + NativeMethods.Identity(file)))).ToLowerInvariant();
}
