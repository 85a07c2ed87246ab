using OciBundle.Elf;

namespace OciBundle.Closure;

/// <summary>An ELF file in the bundle, with the object that loaded it (for the RPATH chain).</summary>
internal sealed class ElfNode
{
    public ElfNode(string requestedPath, string rootfsPath, string hostPath, ElfFile elf, ElfNode? loader)
    {
        RequestedPath = requestedPath;
        RootfsPath = rootfsPath;
        HostPath = hostPath;
        File = elf;
        Loader = loader;
    }

    /// <summary>The path the loader opens it by (what its <c>$ORIGIN</c> derives from).</summary>
    public string RequestedPath { get; }

    /// <summary>The real file's path inside rootfs.</summary>
    public string RootfsPath { get; }

    public string HostPath { get; }
    public ElfFile File { get; }
    public ElfNode? Loader { get; }
}
