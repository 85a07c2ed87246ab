using System.Buffers.Binary;
using System.Text;

namespace OciBundle.Closure;

/// <summary>
/// Reads glibc's <c>/etc/ld.so.cache</c> (the "glibc-ld.so.cache1.1" format written by ldconfig since glibc 2.2,
/// alone or after the old "ld.so-1.7.0" table): the library names it knows and the paths they map to, in the
/// order ld.so consults them. Only names and paths are taken; whether a candidate fits the target's machine is
/// checked on the file itself, which is what the cache's flags approximate.
/// </summary>
/// <remarks>No .NET library reads this format; it is 48 bytes of header and a table of 24-byte entries.</remarks>
internal sealed class LdSoCache
{
    private const string OldMagic = "ld.so-1.7.0";
    private const string NewMagic = "glibc-ld.so.cache1.1";

    private readonly Dictionary<string, List<string>> _byName;

    private LdSoCache(Dictionary<string, List<string>> byName) => _byName = byName;

    public static LdSoCache Empty { get; } = new(new Dictionary<string, List<string>>());

    /// <summary>Every name the cache knows.</summary>
    public IEnumerable<string> Names => _byName.Keys;

    /// <summary>The paths recorded for a library name, in cache order.</summary>
    public IReadOnlyList<string> Lookup(string name) => _byName.TryGetValue(name, out List<string>? paths) ? paths : Array.Empty<string>();

    /// <summary>Parses a cache file; a missing, unreadable or unknown-format file gives an empty cache (ld.so then does without it too).</summary>
    public static LdSoCache Load(string hostPath)
    {
        byte[] data;
        try
        {
            data = File.ReadAllBytes(hostPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Empty;
        }

        return Parse(data);
    }

    public static LdSoCache Parse(ReadOnlySpan<byte> data)
    {
        int start = 0;
        if (StartsWith(data, OldMagic))
        {
            // Old header: magic (11 bytes, padded to 12), nlibs; then nlibs entries of 3 ints. The new table follows, 8-aligned.
            if (data.Length < 16)
            {
                return Empty;
            }

            uint oldCount = BinaryPrimitives.ReadUInt32LittleEndian(data[12..]);
            long end = 16 + (oldCount * 12L);
            start = (int)((end + 7) & ~7L);
            if (start >= data.Length || !StartsWith(data[start..], NewMagic))
            {
                return Empty;
            }
        }
        else if (!StartsWith(data, NewMagic))
        {
            return Empty;
        }

        ReadOnlySpan<byte> table = data[start..];
        if (table.Length < 48)
        {
            return Empty;
        }

        // The cache is written in the byte order of the machine that wrote it; nlibs tells which.
        uint countLe = BinaryPrimitives.ReadUInt32LittleEndian(table[20..]);
        uint countBe = BinaryPrimitives.ReadUInt32BigEndian(table[20..]);
        bool little = 48L + (countLe * 24L) <= table.Length || 48L + (countBe * 24L) > table.Length;
        uint count = little ? countLe : countBe;
        var byName = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (long i = 0; i < count; i++)
        {
            int o = 48 + (int)(i * 24);
            if (o + 24 > table.Length)
            {
                break;
            }

            uint key = little ? BinaryPrimitives.ReadUInt32LittleEndian(table[(o + 4)..]) : BinaryPrimitives.ReadUInt32BigEndian(table[(o + 4)..]);
            uint value = little ? BinaryPrimitives.ReadUInt32LittleEndian(table[(o + 8)..]) : BinaryPrimitives.ReadUInt32BigEndian(table[(o + 8)..]);

            // In the new format string offsets count from the start of the new header.
            string? name = CString(table, key);
            string? path = CString(table, value);
            if (name is null || path is null)
            {
                continue;
            }

            if (!byName.TryGetValue(name, out List<string>? list))
            {
                byName[name] = list = new List<string>(1);
            }

            list.Add(path);
        }

        return new LdSoCache(byName);
    }

    private static bool StartsWith(ReadOnlySpan<byte> data, string magic) =>
        data.Length >= magic.Length && data[..magic.Length].SequenceEqual(Encoding.ASCII.GetBytes(magic));

    private static string? CString(ReadOnlySpan<byte> table, uint offset)
    {
        if (offset >= table.Length)
        {
            return null;
        }

        ReadOnlySpan<byte> rest = table[(int)offset..];
        int end = rest.IndexOf((byte)0);
        return end <= 0 ? null : Encoding.UTF8.GetString(rest[..end]);
    }
}
