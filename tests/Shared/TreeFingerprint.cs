using System.Security.Cryptography;

namespace OciBundle.Testing;

/// <summary>Every path of a tree with its type, mode, size, mtime, link target and content hash: what "identical trees" means.</summary>
public static class TreeFingerprint
{
    public static string Of(string root)
    {
        var lines = new List<string>();
        foreach (string path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Append(root).Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(path);
            string rel = Path.GetRelativePath(root, path);
            long mtime = new DateTimeOffset(File.GetLastWriteTimeUtc(path)).ToUnixTimeSeconds();
            if (info.LinkTarget is { } target)
            {
                lines.Add($"{rel} link {target}");
            }
            else if (Directory.Exists(path))
            {
                lines.Add($"{rel} dir {Convert.ToString((int)File.GetUnixFileMode(path), 8)} {mtime}");
            }
            else
            {
                using FileStream stream = File.OpenRead(path);
                lines.Add($"{rel} file {Convert.ToString((int)File.GetUnixFileMode(path), 8)} {info.Length} {mtime} {Convert.ToHexString(SHA256.HashData(stream))}");
            }
        }

        return string.Join("\n", lines);
    }
}
