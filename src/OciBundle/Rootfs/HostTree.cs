using OciBundle.Diagnostics;
using OciBundle.State;
using OciBundle.Interop;
using OciBundle.Model;

namespace OciBundle.Rootfs;

/// <summary>
/// Adds a file or folder of the build machine to the plan at a rootfs path: folders 0755 and files by the product's
/// rule (<see cref="FileModes"/>), never the build machine's modes; symlinks kept as symlinks when they point inside
/// the folder, refused when they point outside it (copying what they point at would put arbitrary host files in the
/// bundle), and device nodes, fifos and sockets refused.
/// </summary>
internal static class HostTree
{
    /// <summary>
    /// Adds <paramref name="hostPath"/> at <paramref name="rootfsPath"/>; <paramref name="inputs"/> records the folders
    /// listed and files met, for the next publish's up-to-date check. <paramref name="fileMode"/>, an item's
    /// <c>Mode</c>, is the mode of every file added, whatever the rule says.
    /// </summary>
    public static void Add(RootfsPlan plan, string hostPath, string rootfsPath, string reason, InputLedger? inputs = null, UnixFileMode? fileMode = null)
    {
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(hostPath));
        NativeMethods.Statx? top = NativeMethods.LStat(root);
        if (top is null)
        {
            throw new OciBundleException(Strings.FileSourceNotFound, hostPath);
        }

        uint type = top.Value.Mode & NativeMethods.S_IFMT;
        inputs?.Path(root); // the named path itself: a link retargeted is a change
        if (type == NativeMethods.S_IFLNK)
        {
            // The user named this path: follow a link at the top, as cp does for a named source.
            root = Path.TrimEndingDirectorySeparator(File.ResolveLinkTarget(root, returnFinalTarget: true)?.FullName ?? root);
            top = NativeMethods.LStat(root);
            if (top is null)
            {
                throw new OciBundleException(Strings.FileSourceNotFound, hostPath);
            }

            type = top.Value.Mode & NativeMethods.S_IFMT;
        }

        if (type == NativeMethods.S_IFDIR)
        {
            plan.AddDirectory(rootfsPath, reason);
            inputs?.Path(root);
            AddChildren(plan, root, root, rootfsPath, reason, inputs, fileMode);
        }
        else
        {
            inputs?.Path(root);
            AddOne(plan, root, root, rootfsPath, top.Value, reason, fileMode);
        }
    }

    private static void AddChildren(RootfsPlan plan, string treeRoot, string hostDir, string rootfsDir, string reason, InputLedger? inputs, UnixFileMode? fileMode)
    {
        inputs?.Listing(hostDir);
        foreach (string child in Directory.EnumerateFileSystemEntries(hostDir))
        {
            string name = Path.GetFileName(child);
            string target = rootfsDir == "/" ? "/" + name : rootfsDir + "/" + name;
            NativeMethods.Statx? stat = NativeMethods.LStat(child);
            if (stat is null)
            {
                ThrowIfNotUtf8(hostDir, name);
                continue; // removed while we looked
            }

            inputs?.Path(child);
            if ((stat.Value.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR)
            {
                plan.AddDirectory(target, reason);
                AddChildren(plan, treeRoot, child, target, reason, inputs, fileMode);
            }
            else
            {
                AddOne(plan, treeRoot, child, target, stat.Value, reason, fileMode);
            }
        }
    }

    private static void AddOne(RootfsPlan plan, string treeRoot, string hostPath, string rootfsPath, NativeMethods.Statx stat, string reason, UnixFileMode? fileMode)
    {
        switch (stat.Mode & NativeMethods.S_IFMT)
        {
            case NativeMethods.S_IFREG:
                plan.AddFile(rootfsPath, hostPath, Mode(stat), (long)stat.Size, reason, stat.Inode, fileMode);
                break;
            case NativeMethods.S_IFLNK:
                string linkTarget = new FileInfo(hostPath).LinkTarget!;
                string absolute = Path.GetFullPath(linkTarget, Path.GetDirectoryName(hostPath)!);
                if (absolute != treeRoot && !absolute.StartsWith(treeRoot + "/", StringComparison.Ordinal))
                {
                    throw new OciBundleException(Strings.SymlinkOutsideInputs, hostPath, linkTarget, treeRoot);
                }

                // Keep the link relative, so it points at the same file inside the container.
                plan.AddSymlink(rootfsPath, Path.GetRelativePath(Path.GetDirectoryName(hostPath)!, absolute), reason);
                break;
            default:
                throw new OciBundleException(Strings.SpecialFile, hostPath, Describe(stat.Mode));
        }
    }

    /// <summary>
    /// .NET lists a name that is not UTF-8 with U+FFFD in place of the bytes it cannot decode, and that name then opens
    /// nothing: rather than leave the file out silently, name it, with its bytes escaped.
    /// </summary>
    internal static void ThrowIfNotUtf8(string hostDir, string listedName)
    {
        if (!listedName.Contains('\uFFFD', StringComparison.Ordinal))
        {
            return;
        }

        var strict = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true);
        foreach (byte[] raw in NativeMethods.RawNames(hostDir))
        {
            try
            {
                strict.GetString(raw);
            }
            catch (System.Text.DecoderFallbackException)
            {
                string escaped = string.Concat(raw.Select(b => b is >= 0x20 and < 0x7F and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:x2}"));
                throw new OciBundleException(Strings.NonUtf8FileName, hostDir, escaped);
            }
        }
    }

    private static UnixFileMode Mode(NativeMethods.Statx stat) => (UnixFileMode)(stat.Mode & 0xFFF);

    private static string Describe(uint mode) => (mode & NativeMethods.S_IFMT) switch
    {
        0x1000 => "a fifo",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0xC000 => "a socket",
        _ => $"a file of type 0{mode & NativeMethods.S_IFMT:o}",
    };
}
