using System.Text;

namespace OciBundle.Closure;

/// <summary>
/// Which package lists a path, over every <c>info/*.list</c> of a dpkg database, kept as the lists' own bytes. A first
/// plan on a machine reads them all (8.5 MB, 142,000 paths on a desktop Debian) before it can answer the first question;
/// a string per path and a hash table of them cost 70-100 ms of allocation and collections that keep them all, so the
/// paths stay where they were read and an open-addressing table holds where each starts. Exact: a question compares
/// the bytes, and the hash only narrows where to look. The first package to list a path keeps it.
/// </summary>
internal sealed class DpkgListIndex
{
    private static readonly byte[] Usr = "/usr"u8.ToArray();
    private static readonly byte[] Bom = { 0xEF, 0xBB, 0xBF };
    private readonly byte[][] _mergedFolders;
    private readonly List<byte[]> _chunks = new();
    private readonly List<string> _packages = new();
    private readonly List<int> _chunkPackages = new();
    private Slot[] _slots;
    private int _count;

    /// <param name="merged">The folders a merged-usr sysroot links under <c>/usr</c> (<c>/lib/</c>, <c>/bin/</c>, ...): a path listed under one is kept under <c>/usr</c>, where the file is.</param>
    /// <param name="expectedPaths">
    /// About how many paths will be added (the lists' line count): the table is made that large at once. Growing it
    /// from small left 4 MB of larger and larger tables on the large object heap of a first publish, and their
    /// collection of every generation in the publish. More paths than expected still fit: the table grows. Taken only up
    /// to <see cref="MaxExpectedPaths"/>: a line count is not a path count (a list of 15 MB of blank lines, or of one
    /// path over and over, made a table of 32 Mi slots, 512 MiB, for no path or one).
    /// </param>
    public DpkgListIndex(IEnumerable<string> merged, int expectedPaths = 0)
    {
        _mergedFolders = merged.Select(d => Encoding.UTF8.GetBytes(d.TrimEnd('/'))).ToArray();
        _slots = new Slot[Math.Max(1 << 10, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(Math.Clamp(expectedPaths, 0, MaxExpectedPaths) / 3 * 4 + 1)))];
    }

    /// <summary>The most paths a table is made large enough for at once (1 Mi slots, 16 MiB; a desktop Debian lists 142,000).</summary>
    private const int MaxExpectedPaths = 1 << 19;

    /// <summary>How many slots the table has (a power of two; at most three quarters of them full).</summary>
    internal int Capacity => _slots.Length;

    /// <summary>
    /// The index of <paramref name="lists"/> (each package's name and the path of its list, in the order the first to
    /// list a path keeps it), each list read up to <paramref name="maxBytes"/> (one that grew since it was checked is cut
    /// there). All are read first and their line ends counted (a vectorized count), so the table is made its size once.
    /// </summary>
    public static DpkgListIndex Read(IReadOnlyList<(string Package, string Path)> lists, IEnumerable<string> merged, long maxBytes)
    {
        var bytes = new byte[lists.Count][];
        long lines = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = ReadBounded(lists[i].Path, maxBytes);
            lines += bytes[i].AsSpan().Count((byte)'\n');
        }

        var index = new DpkgListIndex(merged, (int)Math.Min(lines, int.MaxValue));
        for (int i = 0; i < bytes.Length; i++)
        {
            index.Add(lists[i].Package, bytes[i]);
        }

        return index;
    }

    /// <summary>How many paths are listed.</summary>
    public int Count => _count;

    /// <summary>
    /// Adds one package's list: one path per line, trailing slashes dropped (dpkg's <c>/.</c> for the root kept). Lines
    /// end at LF, CR or CRLF and a UTF-8 byte order mark is skipped, as <c>File.ReadLines</c> (the reader before this
    /// index) read them: the owners remembered in the machine's cache do not say which reader answered.
    /// </summary>
    public void Add(string package, byte[] list)
    {
        int owner = _packages.Count;
        _packages.Add(package);
        int chunk = _chunks.Count;
        _chunks.Add(list);
        _chunkPackages.Add(owner);
        int start = list.AsSpan().StartsWith(Bom) ? Bom.Length : 0;
        while (start < list.Length)
        {
            int end = list.AsSpan(start).IndexOfAny((byte)'\n', (byte)'\r');
            end = end < 0 ? -1 : start + end;
            if (end < 0)
            {
                end = list.Length;
            }

            if (end - start > 1)
            {
                AddPath(owner, chunk, start, ((ReadOnlySpan<byte>)list.AsSpan(start, end - start)).TrimEnd((byte)'/').Length);
            }

            start = end + 1;
        }
    }

    /// <summary>The package that lists <paramref name="path"/> (a real path of the sysroot), or null.</summary>
    public string? OwnerOf(string path)
    {
        byte[] key = Encoding.UTF8.GetBytes(path);
        int hash = Hash(key);
        for (int i = hash & (_slots.Length - 1); _slots[i].Length != 0; i = (i + 1) & (_slots.Length - 1))
        {
            if (_slots[i].Hash == hash && Bytes(_slots[i]).SequenceEqual(key))
            {
                return _packages[_chunkPackages[_slots[i].Chunk]];
            }
        }

        return null;
    }

    private void AddPath(int owner, int chunk, int offset, int length)
    {
        ReadOnlySpan<byte> path = _chunks[chunk].AsSpan(offset, length);
        foreach (byte[] folder in _mergedFolders)
        {
            if (path.StartsWith(folder) && (path.Length == folder.Length || path[folder.Length] == (byte)'/'))
            {
                byte[] moved = new byte[Usr.Length + path.Length];
                Usr.CopyTo(moved, 0);
                path.CopyTo(moved.AsSpan(Usr.Length));
                chunk = _chunks.Count;
                _chunks.Add(moved);
                _chunkPackages.Add(owner);
                (offset, length) = (0, moved.Length);
                break;
            }
        }

        if (length == 0)
        {
            return; // a line of slashes only: no path
        }

        var slot = new Slot { Hash = Hash(_chunks[chunk].AsSpan(offset, length)), Chunk = chunk, Offset = offset, Length = length };
        if (Insert(_slots, slot) && ++_count > _slots.Length / 4 * 3)
        {
            Grow();
        }
    }

    /// <summary>Puts <paramref name="slot"/> in <paramref name="slots"/> unless its path is there: false then (the first package keeps it).</summary>
    private bool Insert(Slot[] slots, Slot slot)
    {
        int i = slot.Hash & (slots.Length - 1);
        while (slots[i].Length != 0)
        {
            if (slots[i].Hash == slot.Hash && Bytes(slots[i]).SequenceEqual(Bytes(slot)))
            {
                return false;
            }

            i = (i + 1) & (slots.Length - 1);
        }

        slots[i] = slot;
        return true;
    }

    private void Grow()
    {
        var larger = new Slot[_slots.Length * 2];
        foreach (Slot slot in _slots)
        {
            if (slot.Length != 0)
            {
                Insert(larger, slot);
            }
        }

        _slots = larger;
    }

    /// <summary>A list's bytes, never more than <paramref name="maxBytes"/> (one that grew since it was checked is cut there).</summary>
    private static byte[] ReadBounded(string list, long maxBytes)
    {
        using var stream = new FileStream(list, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite, BufferSize = 0 });
        byte[] buffer = new byte[(int)Math.Min(stream.Length, maxBytes)];
        int total = 0, read;
        while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0)
        {
            total += read;
        }

        return total == buffer.Length ? buffer : buffer[..total];
    }

    private ReadOnlySpan<byte> Bytes(Slot slot) => _chunks[slot.Chunk].AsSpan(slot.Offset, slot.Length);

    private static int Hash(ReadOnlySpan<byte> path)
    {
        var hash = default(HashCode); // seeded per process: a list cannot be written to collide on every machine
        hash.AddBytes(path);
        return hash.ToHashCode();
    }

    /// <summary>Where one listed path is: its bytes (chunk, offset, length; a length of 0 is an empty slot) and its hash; the chunk's list names its package.</summary>
    private struct Slot
    {
        public int Hash;
        public int Chunk;
        public int Offset;
        public int Length;
    }
}
