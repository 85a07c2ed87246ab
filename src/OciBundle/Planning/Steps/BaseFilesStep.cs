using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Sysroots;

namespace OciBundle.Planning.Steps;

/// <summary>
/// With a base image, which planned paths its tree already holds as planned: the same file (the very inode the plan
/// took from the base's unpacked tree), the same link, the same directory, each with the planned mode and root's
/// ownership. The image's own layers leave those out (the base's layers carry them); what is new or different is
/// written on top, so no whiteout is ever needed.
/// </summary>
internal sealed class BaseFilesStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        if (context.Base is not { } baseImage)
        {
            context.FromBase = new HashSet<string>(StringComparer.Ordinal);
            return;
        }

        var fromBase = new HashSet<string>(StringComparer.Ordinal);
        foreach (RootfsEntry entry in context.Plan.Entries)
        {
            if (entry.Path != "/" && InBase(baseImage, entry))
            {
                fromBase.Add(entry.Path);
            }
        }

        context.Log($"Base image {baseImage.Source}: {fromBase.Count} of {context.Plan.Entries.Count()} planned paths are in its layers as planned; the rest goes on top.");
        context.FromBase = fromBase;
    }

    /// <summary>Whether the base's tree holds <paramref name="entry"/> as planned.</summary>
    internal static bool InBase(BaseImage baseImage, RootfsEntry entry)
    {
        if (entry.OwnerId is { } owner && owner != 0 || entry.Content is not null)
        {
            return false;
        }

        string host = baseImage.Root + entry.Path;
        if (NativeMethods.LStat(host) is not { } s)
        {
            return false;
        }

        uint type = s.Mode & NativeMethods.S_IFMT;
        bool sameMode = (s.Mode & 0b111_111_111_111) == (int)entry.Mode;
        return entry.Kind switch
        {
            RootfsEntryKind.File => type == NativeMethods.S_IFREG && sameMode && (entry.SourceInode == 0 || entry.SourceInode == s.Inode)
                && entry.SourcePath is { } source && NativeMethods.LStat(source) is { } src && src.Inode == s.Inode && src.DevMajor == s.DevMajor && src.DevMinor == s.DevMinor,
            RootfsEntryKind.Symlink => type == NativeMethods.S_IFLNK && new FileInfo(host).LinkTarget == entry.LinkTarget,
            RootfsEntryKind.Directory => type == NativeMethods.S_IFDIR && sameMode,
            _ => false,
        };
    }
}
