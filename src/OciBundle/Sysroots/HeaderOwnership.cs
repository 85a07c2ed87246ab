using System.Globalization;
using System.Text;
using OciBundle.State;

namespace OciBundle.Sysroots;

/// <summary>
/// What an image's tar headers say of one path that its unpacked tree cannot keep (the cache may be filled by a user
/// who cannot chown, and its files are never setuid): the owner, the group and the full mode, setuid, setgid and sticky
/// bits included.
/// </summary>
internal readonly record struct HeaderOwnership(int Uid, int Gid, UnixFileMode Mode);

/// <summary>
/// The record of every unpacked path's <see cref="HeaderOwnership"/>, kept in a sysroot cache entry beside
/// <c>rootfs/</c> (<see cref="FileName"/>; its digest is in the entry's marker, so it is trusted and checked as the
/// entry is). One line a path: the path (escaped as <see cref="TabSeparated"/> says), uid, gid, mode in octal.
/// </summary>
internal static class HeaderOwnershipRecord
{
    public const string FileName = "ownership.tsv";
    private const string Header = "ocibundle-ownership 1";

    /// <summary>The record of the tree unpacked at <paramref name="rootfs"/> (an entry's <c>rootfs/</c>).</summary>
    public static string Beside(string rootfs) => Path.Combine(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(rootfs))!, FileName);

    /// <summary>Writes <paramref name="paths"/> (absolute paths of the tree, e.g. <c>/usr/bin</c>) in ordinal order.</summary>
    public static void Write(string file, IEnumerable<KeyValuePair<string, HeaderOwnership>> paths)
    {
        var text = new StringBuilder();
        text.Append(Header).Append('\n');
        foreach ((string path, HeaderOwnership o) in paths.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            text.Append(TabSeparated.Escape(path)).Append('\t').Append(o.Uid.ToString(CultureInfo.InvariantCulture)).Append('\t')
                .Append(o.Gid.ToString(CultureInfo.InvariantCulture)).Append('\t').Append(Convert.ToString((int)o.Mode, 8)).Append('\n');
        }

        File.WriteAllText(file, text.ToString(), new UTF8Encoding(false));
    }

    /// <summary>The record at <paramref name="file"/>; null when it is missing, of another version or unreadable.</summary>
    public static IReadOnlyDictionary<string, HeaderOwnership>? Read(string file)
    {
        var paths = new Dictionary<string, HeaderOwnership>(StringComparer.Ordinal);
        try
        {
            using var lines = File.ReadLines(file).GetEnumerator();
            if (!lines.MoveNext() || lines.Current != Header)
            {
                return null;
            }

            while (lines.MoveNext())
            {
                string[] f = lines.Current.Split('\t');
                paths[TabSeparated.Unescape(f[0])] = new HeaderOwnership(
                    int.Parse(f[1], NumberStyles.None, CultureInfo.InvariantCulture),
                    int.Parse(f[2], NumberStyles.None, CultureInfo.InvariantCulture),
                    (UnixFileMode)(Convert.ToInt32(f[3], 8) & 0xFFF));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException or FormatException or OverflowException or ArgumentException)
        {
            return null;
        }

        return paths;
    }
}
