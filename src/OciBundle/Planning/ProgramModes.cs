using Microsoft.Win32.SafeHandles;
using OciBundle.Model;

namespace OciBundle.Planning;

/// <summary>The rules of <see cref="FileModes"/> applied to a plan: which planned files are programs, read where it takes a look at the file.</summary>
internal static class ProgramModes
{
    /// <summary>
    /// Gives every planned file copied from the build machine its mode by the rules above: <paramref name="programs"/>
    /// are the rootfs paths known to be programs (ELF programs, interpreters, the app host, OciBundleArg's); a file
    /// planned 0755 for its source's execute bit keeps it only if it is one of them or a script. Files the product
    /// generates keep the mode it gave them (0644), and an item's <c>Mode</c> is never changed.
    /// </summary>
    /// <returns>How many files are programs (for the log).</returns>
    public static int Apply(RootfsPlan plan, IReadOnlySet<string> programs)
    {
        int count = 0;
        foreach (RootfsEntry file in plan.Entries.Where(e => e.Kind == RootfsEntryKind.File && e.SourcePath is not null && !e.ModeGiven).ToList())
        {
            bool program = programs.Contains(file.Path) || (file.Mode == FileModes.Program && IsScript(file.SourcePath!));
            plan.SetFileMode(file.Path, FileModes.Of(program));
            count += program ? 1 : 0;
        }

        return count;
    }

    /// <summary>The file starts with <c>#!</c> (a script the kernel runs through its interpreter). False when it cannot be read.</summary>
    public static bool IsScript(string path)
    {
        try
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> start = stackalloc byte[2];
            return RandomAccess.Read(handle, start, 0) == 2 && start[0] == '#' && start[1] == '!';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
