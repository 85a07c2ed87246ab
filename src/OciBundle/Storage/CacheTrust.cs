using OciBundle.Interop;

namespace OciBundle.Storage;

/// <summary>
/// The one rule by which the per-user caches (the digest cache with its dpkg owners and .nupkg hashes, and the sysroot
/// cache) trust what they find: a folder or file of the user building (or of root, who could change anything anyway)
/// that no other user may write, for whoever could write there could plant what the cache hands on (a false
/// checksum in the SBOM, a root file system under a digest's name). Judged on the path itself, never through a link.
/// A folder writable by its owner's group is trusted only where the caller allows it: the sysroot cache does (most
/// distributions give each user a group of their own, and umask 002), the digest cache, created 0700, does not.
/// </summary>
internal static class CacheTrust
{
    /// <summary>
    /// Why <paramref name="path"/> may not be trusted (<c>owned by the user 1001, not by the user 1000 who builds</c>);
    /// null when it may, or when there is nothing there yet (the cache makes it, as its own).
    /// </summary>
    /// <param name="path">A folder, or with <paramref name="isFile"/> a regular file.</param>
    /// <param name="groupMayWrite">Whether the owner's group may write it.</param>
    /// <param name="isFile">A file (a record in the cache) rather than a folder.</param>
    public static string? Distrust(string path, bool groupMayWrite, bool isFile = false)
    {
        if (NativeMethods.LStat(path) is not { } s)
        {
            return null;
        }

        uint me = NativeMethods.getuid();
        uint type = s.Mode & NativeMethods.S_IFMT;
        return type != (isFile ? NativeMethods.S_IFREG : NativeMethods.S_IFDIR) ? (isFile ? "not a regular file" : "not a folder")
            : s.Uid != me && s.Uid != 0 ? $"owned by the user {s.Uid}, not by the user {me} who builds"
            : (s.Mode & 0b000_000_010) != 0 ? $"writable by every user (mode {Mode(s)})"
            : !groupMayWrite && (s.Mode & 0b000_010_000) != 0 ? $"writable by its group (mode {Mode(s)})"
            : null;
    }

    private static string Mode(NativeMethods.Statx s) => Convert.ToString(s.Mode & 0xFFF, 8);
}
