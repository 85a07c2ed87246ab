namespace OciBundle.Model;

/// <summary>
/// The modes of regular files in every output (the bundle's rootfs and every image layer): the product's, decided by
/// what a file is, never by the build machine. The source's bits are noise there: NuGet marks every file it extracts
/// executable for its owner (NuGet/Home#6778), a umask of 077 leaves app files 0600, and whoever filled a cache
/// decides the rest. So a file is 0755 when it is a program and 0644 when it is not:
/// <list type="bullet">
/// <item>an ELF program (<c>ET_EXEC</c>, or <c>ET_DYN</c> with an interpreter or the PIE flag), the interpreter of one
///   (the kernel executes <c>ld.so</c>), the app host, or a program <c>OciBundleArg</c> names: 0755;</item>
/// <item>a script (it starts with <c>#!</c>) whose source has an execute bit: 0755;</item>
/// <item>everything else, shared libraries and assemblies included (the loader maps them, it never executes them): 0644;</item>
/// <item>an <c>OciBundleFile</c> item's <c>Mode</c>: exactly that, whatever the rules say.</item>
/// </list>
/// The planner applies them (<c>Planning/ProgramModes</c>), once it knows which files are programs.
/// </summary>
internal static class FileModes
{
    public const UnixFileMode Data = (UnixFileMode)0b110_100_100; // 0644
    public const UnixFileMode Program = (UnixFileMode)0b111_101_101; // 0755
    public const UnixFileMode AnyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    public static UnixFileMode Of(bool program) => program ? Program : Data;

    /// <summary>
    /// An item's <c>Mode</c> (<c>0644</c>, <c>755</c>, <c>0600</c>): three octal digits, or four with a leading 0; no
    /// setuid, setgid or sticky bit, and no write for group or others (root runs the bundle: no other user may change
    /// what it runs). Null when it is none of that.
    /// </summary>
    public static UnixFileMode? ParseGiven(string text)
    {
        string digits = text.Trim();
        if (digits.Length == 4 && digits[0] == '0')
        {
            digits = digits[1..];
        }

        if (digits.Length != 3 || !digits.All(c => c is >= '0' and <= '7'))
        {
            return null;
        }

        int bits = Convert.ToInt32(digits, 8);
        return (bits & 0b000_010_010) != 0 ? null : (UnixFileMode)bits;
    }
}
