using System.Diagnostics;
using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;
using OciBundle.Model;
using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Request;
using OciBundle.State;

namespace OciBundle.Sysroots;

/// <summary>The sysroot a plan takes its native files from: a folder on the host, and the digest it was unpacked from (null for a plain folder).</summary>
internal sealed record MaterializedSysroot(string Root, string? Digest, string Source, string Form)
{
    /// <summary>The image's name in its registry (<c>registry/repository:tag</c>), for a sysroot pulled from one.</summary>
    public string? BaseName { get; init; }
}

/// <summary>
/// Turns <c>OciBundleSysroot</c> into a folder the closure can read. A plain folder is used as it is. An OCI image layout,
/// an OCI archive or a root file system tarball is unpacked once into the content-addressed cache
/// (<c>OciBundleSysrootCache/&lt;sha256&gt;/rootfs</c>, shared by every project): written in a staging folder beside it
/// under a lock, renamed into place in one step, and checked each time it is used, against the digest it was made from
/// and the identity of every path as it was written (a changed, added or removed file makes it unpacked again).
/// Runs in the planner, never on a no-op publish: the up-to-date check knows the archive by its identity.
/// </summary>
internal static class SysrootStore
{
    private const string MarkerName = "ocibundle-sysroot.txt";
    // 3: layers checked against the config's diff_ids; an entry unpacked before that check is unpacked again, once.
    private const string MarkerHeader = "ocibundle-sysroot 3";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(10);

    public static MaterializedSysroot Materialize(SysrootSpec spec, TargetArchitecture arch, InputLedger inputs, Action<string> log, CancellationToken cancel = default)
    {
        if (spec.Form is SysrootForm.Folder or SysrootForm.Registry)
        {
            return spec.Form == SysrootForm.Folder ? new MaterializedSysroot(spec.Path, null, spec.Path, "folder") : RegistrySysroot.Materialize(spec, arch, log, cancel);
        }

        string cache = spec.CacheDirectory!;
        var clock = Stopwatch.StartNew();
        if (spec.Form == SysrootForm.OciLayout)
        {
            string source = spec.Tag is null ? spec.Path : $"{spec.Path}:{spec.Tag}";
            OciImage image = OciImage.Open(spec.Path, spec.Tag, arch.GoArch, source);
            foreach (string document in image.Documents.Concat(image.Layers.Select(l => l.Path)))
            {
                inputs.Path(document);
            }

            CheckPin(spec, source, image.Digest, null);
            CheckArchitecture(source, arch, image.Architecture);
            EntryMarker marker = Ensure(cache, image.Digest, source, log, stage =>
            {
                ImageLayers.Apply(image, Path.Combine(stage, "rootfs"), source, log);
                return (image.Digest, image.Architecture);
            });
            log($"Sysroot {source}: image {image.Digest} ({marker.Architecture}), from {Path.Combine(cache, Hex(image.Digest))} in {clock.ElapsedMilliseconds} ms.");
            return new MaterializedSysroot(RootOf(cache, image.Digest), image.Digest, source, "oci-layout");
        }

        // A file: an OCI archive or a tarball, told apart when it is unpacked; the cache knows it by its own digest.
        string file = spec.Path;
        inputs.Path(file);
        string? known = KnownDigest(cache, file);
        string fileDigest = known ?? HashFile(file, spec.Path);
        string hashed = known is null ? $"hashed in {clock.ElapsedMilliseconds} ms" : "known by its identity, not read";
        if (spec.PinnedDigest is { } pin && pin != fileDigest && !IsOciArchive(file))
        {
            throw new OciBundleException(Strings.SysrootDigestMismatch, spec.Path, pin, fileDigest);
        }

        EntryMarker m = Ensure(cache, fileDigest, spec.Path, log, stage =>
        {
            string rootfs = Path.Combine(stage, "rootfs");
            if (IsOciArchive(file))
            {
                string layout = Path.Combine(stage, "layout");
                Directory.CreateDirectory(layout);
                using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                {
                    new TarUnpacker(layout, spec.Path) { FilesOnly = true }.Unpack(stream, layer: false);
                }

                OciImage image = OciImage.Open(layout, null, arch.GoArch, spec.Path);
                CheckArchitecture(spec.Path, arch, image.Architecture);
                ImageLayers.Apply(image, rootfs, spec.Path, log);
                TarUnpacker.MakeWritable(layout);
                Directory.Delete(layout, recursive: true);
                return (image.Digest, image.Architecture);
            }

            Directory.CreateDirectory(rootfs);
            var unpacker = new TarUnpacker(rootfs, spec.Path);
            using (var stream = TarUnpacker.Decompressed(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1), file))
            {
                unpacker.Unpack(stream, layer: false);
            }

            unpacker.Finish();
            log($"Sysroot {spec.Path}: unpacked {unpacker.Entries} entries ({unpacker.SkippedSpecialFiles} device nodes and FIFOs skipped).");
            return (fileDigest, "");
        });
        CheckPin(spec, spec.Path, m.Digest, fileDigest);
        CheckArchitecture(spec.Path, arch, m.Architecture);
        RememberDigest(cache, file, fileDigest);
        log($"Sysroot {spec.Path}: {m.Digest} ({hashed}), from {Path.Combine(cache, Hex(fileDigest))} in {clock.ElapsedMilliseconds} ms.");
        return new MaterializedSysroot(RootOf(cache, fileDigest), m.Digest, spec.Path, m.Digest == fileDigest ? "tarball" : "oci-archive");
    }

    internal static string RootOf(string cache, string digest) => Path.Combine(cache, Hex(digest), "rootfs");

    internal static string Hex(string digest) => digest[7..];

    private static void CheckPin(SysrootSpec spec, string source, string digest, string? fileDigest)
    {
        if (spec.PinnedDigest is { } pin && pin != digest && pin != fileDigest)
        {
            throw new OciBundleException(Strings.SysrootDigestMismatch, source, pin, digest);
        }
    }

    internal static void CheckArchitecture(string source, TargetArchitecture arch, string imageArchitecture)
    {
        if (imageArchitecture.Length > 0 && imageArchitecture != arch.GoArch)
        {
            throw new OciBundleException(Strings.SysrootLacksArchitecture, source, arch.GoArch, $"its image config says {imageArchitecture}");
        }
    }

    /// <summary>
    /// An uncompressed tar whose top holds <c>oci-layout</c>: its headers are read (the data is skipped by seeking) while
    /// they are those of a layout, however many blobs come first (skopeo writes blobs/ first, oci-layout last); the first
    /// other name (./etc of a root file system) ends the search.
    /// </summary>
    private static bool IsOciArchive(string file)
    {
        if (TarUnpacker.IsCompressed(file))
        {
            return false;
        }

        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 12);
            using var reader = new TarReader(stream);
            while (reader.GetNextEntry(copyData: false) is { } entry)
            {
                string name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name.TrimStart('/');
                if (name == "oci-layout")
                {
                    return true;
                }

                if (entry.EntryType is not (TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes)
                    && name is not ("" or "." or "index.json" or "blobs" or "blobs/") && !name.StartsWith("blobs/", StringComparison.Ordinal))
                {
                    return false;
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or IOException or ArgumentException or OverflowException or NotSupportedException)
        {
            return false; // not a tar, or an entry .NET does not read (sparse): the unpacker says so with its own error
        }

        return false;
    }

    /// <summary>
    /// The digest of an archive hashed before, while it is the same file: known by its path and full identity (inode,
    /// size, mtime and ctime to the nanosecond, which any write changes), as the up-to-date check knows its inputs. So a
    /// publish after an app change does not read a 150 MB tarball again; a new or rewritten file is hashed.
    /// </summary>
    private static string? KnownDigest(string cache, string file)
    {
        try
        {
            string record = Path.Combine(cache, ".identities", IdentityKey(file));
            return File.Exists(record) && File.ReadAllText(record).Trim() is { } digest && SysrootSpec.IsDigest(digest)
                && Directory.Exists(Path.Combine(cache, Hex(digest))) ? digest : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void RememberDigest(string cache, string file, string digest)
    {
        try
        {
            string folder = Path.Combine(cache, ".identities");
            Directory.CreateDirectory(folder);
            string record = Path.Combine(folder, IdentityKey(file));
            string temp = $"{record}.tmp-{Guid.NewGuid():N}";
            File.WriteAllText(temp, digest + "\n");
            File.Move(temp, record, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // only a shortcut: the next publish hashes the file again
        }
    }

    private static string IdentityKey(string file) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(file + "\n" + NativeMethods.Identity(file)))).ToLowerInvariant();

    private static string HashFile(string path, string source)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            return "sha256:" + Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.SysrootUnreadable, source, e.Message);
        }
    }

    /// <summary>What an entry says of itself: the digest it was made from, the image's architecture, every path's identity.</summary>
    internal sealed record EntryMarker(string Digest, string Architecture, IReadOnlyDictionary<string, string> Entries);

    /// <summary>The verified entry for <paramref name="key"/>, unpacked by <paramref name="fill"/> first when it is missing or damaged.</summary>
    internal static EntryMarker Ensure(string cache, string key, string source, Action<string> log, Func<string, (string Digest, string Architecture)> fill)
    {
        string entry = Path.Combine(cache, Hex(key));
        try
        {
            Directory.CreateDirectory(cache);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.SysrootCacheFailed, cache, e.Message.TrimEnd('.'));
        }

        CheckPrivate(cache, cache, follow: true);
        CheckPrivate(cache, entry, follow: false);
        if (Verified(entry, key, log) is { } hit)
        {
            return hit;
        }

        using SafeFileHandle held = Lock(cache, Hex(key));
        CheckPrivate(cache, entry, follow: false);
        if (Verified(entry, key, log) is { } filled)
        {
            return filled; // another publish unpacked it while this one waited
        }

        string stage = Path.Combine(cache, $".{Hex(key)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            foreach (string leftover in Directory.EnumerateDirectories(cache, $".{Hex(key)}.*"))
            {
                RemoveTree(leftover); // a killed publish's staging folder, or a damaged entry moved aside (the lock is ours)
            }

            if (NativeMethods.LStat(entry) is not null)
            {
                log($"Sysroot cache entry {entry} is damaged or incomplete: unpacking it again.");
                string aside = Path.Combine(cache, $".{Hex(key)}.old-{Guid.NewGuid():N}");
                Directory.Move(entry, aside);
                RemoveTree(aside);
            }

            // The builder's alone: a file the archive made world-writable cannot be changed by another user between
            // the entry's check and the copy into a bundle, for nobody else can reach it.
            Directory.CreateDirectory(stage, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var clock = Stopwatch.StartNew();
            (string digest, string architecture) = fill(stage);
            SortedDictionary<string, string> snapshot = OutputSnapshot.Take(Path.Combine(stage, "rootfs"));
            WriteMarker(Path.Combine(stage, MarkerName), key, digest, architecture, source, snapshot);
            Directory.Move(stage, entry);
            log($"Sysroot {source}: unpacked into {entry} ({snapshot.Count} paths) in {clock.ElapsedMilliseconds} ms.");
            return new EntryMarker(digest, architecture, snapshot);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            RemoveTree(stage);
            throw new OciBundleException(Strings.SysrootCacheFailed, cache, e.Message.TrimEnd('.'));
        }
        catch
        {
            RemoveTree(stage);
            throw;
        }
    }

    /// <summary>
    /// The cache, and an entry in it, must be the building user's alone (or root's): not writable by every user (a sticky
    /// /tmp-like folder included), not owned by another user, for whoever could write there could plant a root file
    /// system under a digest's name with a marker of their own. A folder writable by the owner's group is allowed (most
    /// distributions give each user a group of their own, and umask 002).
    /// </summary>
    private static void CheckPrivate(string cache, string path, bool follow)
    {
        if ((follow ? NativeMethods.RealPath(path) ?? path : path) is not { } real || NativeMethods.LStat(real) is not { } s)
        {
            return; // an entry not made yet
        }

        uint me = NativeMethods.getuid();
        string? why = (s.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFDIR ? (path == cache ? null : $"has an entry {path} that is not a folder")
            : s.Uid != me && s.Uid != 0 ? $"{(path == cache ? "is" : $"has an entry {path}")} owned by the user {s.Uid}, not by the user {me} who builds"
            : (s.Mode & 0b10) != 0 ? $"{(path == cache ? "is" : $"has an entry {path} that is")} writable by every user (mode {Convert.ToString(s.Mode & 0xFFF, 8)})"
            : null;
        if (why is not null)
        {
            throw new OciBundleException(Strings.SysrootCacheNotPrivate, cache, why);
        }
    }

    /// <summary>The entry's marker, when it names <paramref name="key"/> (an entry moved or copied to another digest's name is not that digest's) and every path is as unpacked.</summary>
    private static EntryMarker? Verified(string entry, string key, Action<string> log)
    {
        string markerPath = Path.Combine(entry, MarkerName);
        if (!File.Exists(markerPath))
        {
            return null;
        }

        string digest = "", architecture = "", keyed = "";
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            bool first = true;
            foreach (string line in File.ReadLines(markerPath))
            {
                if (first)
                {
                    if (line != MarkerHeader)
                    {
                        return null;
                    }

                    first = false;
                    continue;
                }

                string[] f = line.Split('\t');
                switch (f[0])
                {
                    case "key": keyed = f[1]; break;
                    case "digest": digest = f[1]; break;
                    case "architecture": architecture = f[1]; break;
                    case "entry": entries[TabSeparated.Unescape(f[1])] = f[2]; break;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
            return null;
        }

        if (keyed != key)
        {
            log($"Sysroot cache entry {entry} was unpacked from {(keyed.Length == 0 ? "an unknown archive" : keyed)}, not {key}.");
            return null;
        }

        var clock = Stopwatch.StartNew();
        if (!SysrootSpec.IsDigest(digest) || OutputSnapshot.FirstChange(Path.Combine(entry, "rootfs"), entries) is { } changed)
        {
            log($"Sysroot cache entry {entry} does not match what was unpacked there{(SysrootSpec.IsDigest(digest) ? "" : " (no digest)")}.");
            return null;
        }

        log($"Sysroot cache entry {entry}: {entries.Count} paths as unpacked (checked in {clock.ElapsedMilliseconds} ms).");
        return new EntryMarker(digest, architecture, entries);
    }

    private static void WriteMarker(string path, string key, string digest, string architecture, string source, IReadOnlyDictionary<string, string> snapshot)
    {
        var text = new StringBuilder();
        text.Append(MarkerHeader).Append('\n');
        text.Append("key\t").Append(key).Append('\n');
        text.Append("digest\t").Append(digest).Append('\n');
        text.Append("architecture\t").Append(architecture).Append('\n');
        text.Append("source\t").Append(source.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ')).Append('\n');
        foreach ((string p, string identity) in snapshot)
        {
            text.Append("entry\t").Append(TabSeparated.Escape(p)).Append('\t').Append(identity).Append('\n');
        }

        File.WriteAllText(path, text.ToString(), new UTF8Encoding(false));
    }

    /// <summary>A path on one marker line: backslash, tab, newline and carriage return written as \\, \t, \n and \r (a name may hold any of them).</summary>
    private static void RemoveTree(string path)
    {
        try
        {
            if (NativeMethods.LStat(path) is { } s && (s.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR)
            {
                TarUnpacker.MakeWritable(path);
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // left for the next writer, which removes leftovers under the lock
        }
    }

    /// <summary>One writer per entry across processes (flock); a waiter finds the entry filled when it gets the lock.</summary>
    private static SafeFileHandle Lock(string cache, string hex)
    {
        string path = Path.Combine(cache, $".{hex}.lock");
        int fd = NativeMethods.Open(path, NativeMethods.O_RDWR | NativeMethods.O_CREAT | NativeMethods.O_NOFOLLOW | NativeMethods.O_CLOEXEC, 0b110_100_100);
        if (fd < 0)
        {
            throw new OciBundleException(Strings.SysrootCacheFailed, cache, $"the lock file {path} cannot be opened: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        var clock = Stopwatch.StartNew();
        while (NativeMethods.Flock(fd, NativeMethods.LOCK_EX | NativeMethods.LOCK_NB) != 0)
        {
            if (Marshal.GetLastPInvokeError() != NativeMethods.EWOULDBLOCK || clock.Elapsed >= LockTimeout)
            {
                handle.Dispose();
                throw new OciBundleException(Strings.SysrootCacheFailed, cache, $"the lock file {path} is held by another publish for longer than {LockTimeout.TotalMinutes} minutes");
            }

            Thread.Sleep(100);
        }

        return handle;
    }
}
