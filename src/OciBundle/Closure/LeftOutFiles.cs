using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Rootfs;
using OciBundle.Sysroots;

namespace OciBundle.Closure;

/// <summary>
/// What the closure leaves out, and why, in the order it decided: optional runtime parts whose dependencies the sysroot
/// lacks, and the host-file rule of a sysroot folder (<see cref="SysrootView.PublicFilesOnly"/>): an optional data file
/// or folder not every user of the build machine may read is left out with warning OCIB1319, a needed one is an error
/// (OCIB1318).
/// </summary>
internal sealed class LeftOutFiles
{
    private readonly SysrootView _sysroot;
    private readonly Action<string> _log;

    public LeftOutFiles(SysrootView sysroot, Action<string> log)
    {
        _sysroot = sysroot;
        _log = log;
    }

    /// <summary>Every file or folder left out, with why (provenance.json's <c>omitted</c>).</summary>
    public List<string> Omitted { get; } = new();

    /// <summary>Coded warnings: optional data files of a sysroot folder left out by the host-file rule (OCIB1319).</summary>
    public List<OciBundleException> Warnings { get; } = new();

    /// <summary>Leaves something out for a reason of the closure's own (an optional file whose libraries are missing).</summary>
    public void Add(string why)
    {
        Omitted.Add(why);
        _log(why);
    }

    /// <summary>
    /// True when anyone on the build machine may read the sysroot file (or the rule does not apply); false for an
    /// optional file left out (with its warning, once); an error for a needed one.
    /// </summary>
    public bool IsPublic(string realPath, string reason, bool optional, NativeMethods.Statx? known = null)
    {
        string host = _sysroot.HostPath(realPath);
        if (!_sysroot.PublicFilesOnly || (known ?? NativeMethods.LStat(host)) is not { } st || HostFileAccess.Problem(host, _sysroot.Root, st) is not { } problem)
        {
            return true;
        }

        if (!optional)
        {
            throw new OciBundleException(Strings.SysrootFileNotPublic, realPath, _sysroot.Root, reason, problem);
        }

        if (Warnings.All(w => !w.Message.Contains($"'{realPath}'", StringComparison.Ordinal)))
        {
            Warnings.Add(new OciBundleException(Strings.SysrootDataFileLeftOut, realPath, _sysroot.Root, reason, problem));
            Add($"{realPath} left out: not every user of the build machine may read it ({problem}).");
        }

        return false;
    }

    /// <summary>
    /// True when others may search the sysroot folder (or the rule does not apply): a folder they may not hides what is
    /// in it, so none of it is public. An optional one is left out whole, with one warning; a needed one is an error.
    /// </summary>
    public bool IsFolderPublic(string realDir, string reason, bool optional)
    {
        if (!_sysroot.PublicFilesOnly || HostFileAccess.FolderProblem(_sysroot.HostPath(realDir), _sysroot.Root) is not { } closed)
        {
            return true;
        }

        if (!optional)
        {
            throw new OciBundleException(Strings.SysrootFileNotPublic, realDir, _sysroot.Root, reason, closed);
        }

        Warnings.Add(new OciBundleException(Strings.SysrootDataFileLeftOut, realDir, _sysroot.Root, reason, closed));
        Add($"{realDir} left out, with all it holds: not every user of the build machine may reach it ({closed}).");
        return false;
    }
}
