using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using OciBundle.Interop;

namespace OciBundle.State;

/// <summary>
/// Every host input a plan was made from, as the planner met it: each file by identity (type, mode, owner, size,
/// inode, mtime and ctime, so a package upgrade that keeps old mtimes is still a change), each probe that found
/// nothing (a library added earlier in the search path changes the closure), and the listing of each folder walked
/// (a file added or deleted). The next publish compares them all, in a few milliseconds, to decide it has nothing to do.
/// </summary>
internal sealed class InputLedger
{
    private readonly ConcurrentDictionary<string, string> _entries = new(StringComparer.Ordinal);

    /// <summary>What was recorded: <c>path /x</c> or <c>list /x</c>, and its identity then.</summary>
    public IReadOnlyDictionary<string, string> Entries => _entries;

    /// <summary>Records a path the plan depends on: a file read or copied, a link followed, or a probe that found nothing.</summary>
    /// <remarks>Only the first record of a path counts, so a path met again is not looked at again.</remarks>
    public void Path(string hostPath) => Record("path " + hostPath, hostPath, PathIdentity);

    /// <summary>Records a path as <paramref name="seen"/> says it was, the statx the caller just took of it: the same identity as <see cref="Path(string)"/>, without a second look.</summary>
    public void Path(string hostPath, NativeMethods.Statx seen) => Record("path " + hostPath, hostPath, _ => PathIdentity(seen));

    /// <summary>Records the names in a folder whose contents the plan enumerated.</summary>
    /// <remarks>A folder recorded already is not looked at again; its names are kept only when asked for (<see cref="ListingNames"/>).</remarks>
    public void Listing(string hostDir) => Record("list " + hostDir, hostDir, ListingIdentity);

    /// <summary>
    /// Records the names in a folder, as <see cref="Listing(string)"/>, and gives them (raw, sorted bytes; none when it
    /// is missing): a folder is read once per plan, by whichever of its names (<c>/lib/x86_64-linux-gnu</c> and
    /// <c>/usr/lib/x86_64-linux-gnu</c> on a merged <c>/usr</c>) is asked first.
    /// </summary>
    public IReadOnlyList<byte[]> ListingNames(string hostDir)
    {
        string real = NativeMethods.RealPath(hostDir) ?? hostDir;
        FolderListing listed = _listed.GetOrAdd(real, static folder => Listed(folder));
        _entries.TryAdd("list " + hostDir, listed.Identity);
        return listed.Names;
    }

    /// <summary>The folders read, by real path (a class, not a tuple: a framework generic over a value type is compiled on each publish).</summary>
    private readonly ConcurrentDictionary<string, FolderListing> _listed = new(StringComparer.Ordinal);

    private sealed record FolderListing(List<byte[]> Names, string Identity);

    private void Record(string key, string host, Func<string, string> identity)
    {
        if (!_entries.ContainsKey(key))
        {
            _entries.TryAdd(key, identity(host));
        }
    }

    /// <summary>The first recorded input that is no longer as recorded, or null when none changed.</summary>
    public static string? FirstChange(IReadOnlyDictionary<string, string> recorded)
    {
        // One statx each (a thousand and a half for a self-contained app): a few milliseconds, on one core.
        foreach ((string key, string identity) in recorded)
        {
            string now = key.StartsWith("list ", StringComparison.Ordinal) ? ListingIdentity(key[5..])
                : key.StartsWith("path ", StringComparison.Ordinal) ? PathIdentity(key[5..])
                : "";
            if (now != identity)
            {
                return $"{key} (was {identity}, now {now})";
            }
        }

        return null;
    }

    /// <summary>
    /// A file's or link's full identity; for a folder only its type, mode and owner (its times change whenever any
    /// file in it does, and what it lists is recorded separately where it matters).
    /// </summary>
    public static string PathIdentity(string hostPath) => NativeMethods.LStat(hostPath) is { } s ? PathIdentity(s) : "missing";

    private static string PathIdentity(NativeMethods.Statx s) =>
        (s.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR ? $"dir {s.Mode:x} {s.Uid}:{s.Gid}" : NativeMethods.Identity(s);

    private static string ListingIdentity(string hostDir) => Listed(hostDir).Identity;

    /// <summary>A folder's names, sorted, and the identity of that listing ("missing" when there is no such folder).</summary>
    private static FolderListing Listed(string hostDir)
    {
        List<byte[]> names = NativeMethods.RawNames(hostDir);
        if (names.Count == 0 && !Directory.Exists(hostDir))
        {
            return new FolderListing(names, "missing");
        }

        names.Sort((a, b) => a.AsSpan().SequenceCompareTo(b));
        return new FolderListing(names, IdentityOf(names));
    }

    private static string IdentityOf(List<byte[]> names)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (byte[] name in names)
        {
            hash.AppendData(name);
            hash.AppendData("\0"u8);
        }

        return $"{names.Count} names, sha256:{Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant()}";
    }
}

/// <summary>Every path under an output folder, by identity, as written: a change by anyone since is a change.</summary>
internal static class OutputSnapshot
{
    /// <summary>Relative path of every entry below <paramref name="root"/> (not following links) and its identity.</summary>
    /// <remarks>A hash table, not a sorted one: a sorted one of strings is compiled on each publish (its nodes are of a framework value type, out of this assembly's precompiled code), and sorts a thousand entries no reader needs sorted.</remarks>
    public static Dictionary<string, string> Take(string root) => Take(root, new Dictionary<string, string>(StringComparer.Ordinal));

    /// <summary><see cref="Take(string)"/>, in path order (what a file that lists them writes).</summary>
    public static SortedDictionary<string, string> TakeSorted(string root) => Take(root, new SortedDictionary<string, string>(StringComparer.Ordinal));

    private static T Take<T>(string root, T result)
        where T : IDictionary<string, string>
    {
        if (NativeMethods.LStat(root) is not { } top || (top.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFDIR)
        {
            return result;
        }

        var pending = new Stack<string>();
        pending.Push("");
        while (pending.Count > 0)
        {
            string relative = pending.Pop();
            string dir = relative.Length == 0 ? root : System.IO.Path.Combine(root, relative);
            foreach (byte[] raw in NativeMethods.RawNames(dir))
            {
                string name = Encoding.UTF8.GetString(raw);
                string childRelative = relative.Length == 0 ? name : relative + "/" + name;
                string child = System.IO.Path.Combine(dir, name);
                NativeMethods.Statx? s = NativeMethods.LStat(child);
                if (s is null)
                {
                    result[childRelative] = "unreadable name"; // not UTF-8: never something we wrote
                    continue;
                }

                // Directories: mode, owner and identity, but not times (we set them; readers do not change them;
                // an entry added or removed shows as a path of its own).
                bool isDir = (s.Value.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR;
                result[childRelative] = isDir ? $"dir {s.Value.Mode:x} {s.Value.Uid}:{s.Value.Gid} {s.Value.Inode}" : NativeMethods.Identity(s.Value);
                if (isDir)
                {
                    pending.Push(childRelative);
                }
            }
        }

        return result;
    }

    /// <summary>The first difference between a snapshot taken now and the recorded one, or null.</summary>
    public static string? FirstChange(string root, IReadOnlyDictionary<string, string> recorded)
    {
        Dictionary<string, string> now = Take(root, new Dictionary<string, string>(recorded.Count, StringComparer.Ordinal));
        foreach ((string path, string identity) in recorded)
        {
            if (!now.TryGetValue(path, out string? current))
            {
                return $"{path} was removed";
            }

            if (current != identity)
            {
                return $"{path} was changed";
            }
        }

        return now.Keys.FirstOrDefault(p => !recorded.ContainsKey(p)) is { } added ? $"{added} was added" : null;
    }
}
