using OciBundle.Diagnostics;

namespace OciBundle.Rootfs;

public enum SourceKind
{
    PublishOutput,
    Framework,
    ExtraFile,
}

/// <summary>
/// Adds a file or folder of the build machine to the plan at a rootfs path, as it is: modes kept (setuid and
/// setgid stripped by the plan), symlinks kept as symlinks when they point inside the folder, refused when they
/// point outside it (copying what they point at would put arbitrary host files in the bundle), and device nodes,
/// fifos and sockets refused.
/// </summary>
public static class HostTree
{
    public static void Add(RootfsPlan plan, string hostPath, string rootfsPath, string reason, SourceKind kind)
    {
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(hostPath));
        NativeMethods.Statx? top = NativeMethods.LStat(root);
        if (top is null)
        {
            throw new OciBundleException(Strings.FileSourceNotFound, hostPath);
        }

        uint type = top.Value.Mode & NativeMethods.S_IFMT;
        if (type == NativeMethods.S_IFLNK)
        {
            // The user named this path: follow a link at the top, as cp does for a named source.
            root = Path.TrimEndingDirectorySeparator(new FileInfo(root).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? root);
            top = NativeMethods.LStat(root);
            if (top is null)
            {
                throw new OciBundleException(Strings.FileSourceNotFound, hostPath);
            }

            type = top.Value.Mode & NativeMethods.S_IFMT;
        }

        if (type == NativeMethods.S_IFDIR)
        {
            plan.AddDirectory(rootfsPath, reason, Mode(top.Value));
            AddChildren(plan, root, root, rootfsPath, reason);
        }
        else
        {
            AddOne(plan, root, root, rootfsPath, top.Value, reason);
        }
    }

    private static void AddChildren(RootfsPlan plan, string treeRoot, string hostDir, string rootfsDir, string reason)
    {
        foreach (string child in Directory.EnumerateFileSystemEntries(hostDir))
        {
            string name = Path.GetFileName(child);
            string target = rootfsDir == "/" ? "/" + name : rootfsDir + "/" + name;
            NativeMethods.Statx? stat = NativeMethods.LStat(child);
            if (stat is null)
            {
                continue; // removed while we looked
            }

            if ((stat.Value.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFDIR)
            {
                plan.AddDirectory(target, reason, Mode(stat.Value));
                AddChildren(plan, treeRoot, child, target, reason);
            }
            else
            {
                AddOne(plan, treeRoot, child, target, stat.Value, reason);
            }
        }
    }

    private static void AddOne(RootfsPlan plan, string treeRoot, string hostPath, string rootfsPath, NativeMethods.Statx stat, string reason)
    {
        switch (stat.Mode & NativeMethods.S_IFMT)
        {
            case NativeMethods.S_IFREG:
                plan.AddFile(rootfsPath, hostPath, Mode(stat), (long)stat.Size, reason);
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
