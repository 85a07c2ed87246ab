using OciBundle.Sysroots;

namespace OciBundle.Closure;

/// <summary>
/// What the .NET rules may ask of the closure, and nothing more: the ELF files found, libraries added as
/// <c>dlopen</c> would find them, paths of the sysroot. They never reach through it to the resolver's cache or
/// directories.
/// </summary>
internal interface IClosure
{
    /// <summary>Every ELF file in the bundle so far.</summary>
    IEnumerable<ElfNode> Files { get; }

    /// <summary>The sysroot the closure is taken from.</summary>
    SysrootView Sysroot { get; }

    /// <summary>Adds a library the way <c>dlopen(name)</c> by <paramref name="loader"/> would find it; false when there is none.</summary>
    bool AddDlopen(string name, ElfNode? loader, string reason);

    /// <summary>Brings a sysroot path (file or tree) in at the same path; null when it does not exist.</summary>
    string? AddSysrootPath(string path, string reason, Func<string, bool>? exclude = null);

    /// <summary>
    /// Brings in data the product takes on its own (certificates, time zones, os-release): from a sysroot folder, a file
    /// not every user may read is left out with a warning (OCIB1319) instead. Null when it does not exist or was left out.
    /// </summary>
    string? AddSysrootData(string path, string reason, Func<string, bool>? exclude = null);

    /// <summary>Reproduces the symlinks on the way to a sysroot path.</summary>
    void AddSysrootLinks(ResolvedPath resolved);

    /// <summary>The major versions of <c>prefix.N</c> the loader could find, highest first.</summary>
    IReadOnlyCollection<int> SonameVersions(string prefix);
}
