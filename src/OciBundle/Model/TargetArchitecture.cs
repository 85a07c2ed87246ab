using OciBundle.Elf;

namespace OciBundle.Model;

/// <summary>
/// One architecture a bundle can be built for: its GOARCH name (what OCI and Go call it), the ELF identity every
/// native file in the bundle must have, the .NET RuntimeIdentifier suffix and the directories glibc's
/// <c>ld.so</c> searches by default on Debian-style multiarch systems and on plain ones.
/// </summary>
internal sealed class TargetArchitecture
{
    private static readonly TargetArchitecture[] Known =
    {
        new("amd64", new ElfIdentity(ElfClass.Elf64, true, ElfMachine.X86_64), "x86_64-linux-gnu", "x64"),
        new("arm64", new ElfIdentity(ElfClass.Elf64, true, ElfMachine.AArch64), "aarch64-linux-gnu", "arm64"),
        new("arm", new ElfIdentity(ElfClass.Elf32, true, ElfMachine.Arm), "arm-linux-gnueabihf", "arm"),
        new("386", new ElfIdentity(ElfClass.Elf32, true, ElfMachine.X86), "i386-linux-gnu", "x86"),
        new("ppc64le", new ElfIdentity(ElfClass.Elf64, true, ElfMachine.PowerPC64), "powerpc64le-linux-gnu", "ppc64le"),
        new("s390x", new ElfIdentity(ElfClass.Elf64, false, ElfMachine.S390), "s390x-linux-gnu", "s390x"),
        new("riscv64", new ElfIdentity(ElfClass.Elf64, true, ElfMachine.RiscV), "riscv64-linux-gnu", "riscv64"),
        new("loong64", new ElfIdentity(ElfClass.Elf64, true, ElfMachine.LoongArch), "loongarch64-linux-gnu", "loongarch64"),
    };

    // Names people use that are not GOARCH names: accepted, with a warning that says the GOARCH name.
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["x86_64"] = "amd64",
        ["x64"] = "amd64",
        ["aarch64"] = "arm64",
        ["armhf"] = "arm",
        ["armv7"] = "arm",
        ["i386"] = "386",
        ["i686"] = "386",
        ["x86"] = "386",
    };

    private TargetArchitecture(string goArch, ElfIdentity identity, string multiarchTriplet, string ridArch)
    {
        GoArch = goArch;
        Identity = identity;
        MultiarchTriplet = multiarchTriplet;
        RidArch = ridArch;
    }

    public string GoArch { get; }
    public ElfIdentity Identity { get; }
    public string MultiarchTriplet { get; }
    public string RidArch { get; }

    public static IEnumerable<string> GoArchNames => Known.Select(k => k.GoArch);

    /// <summary>The directories the interpreter searches when nothing else names one, in its order.</summary>
    public IReadOnlyList<string> DefaultLibraryDirectories => Identity.Class == ElfClass.Elf64
        ? new[] { $"/lib/{MultiarchTriplet}", $"/usr/lib/{MultiarchTriplet}", "/lib64", "/usr/lib64", "/lib", "/usr/lib" }
        : new[] { $"/lib/{MultiarchTriplet}", $"/usr/lib/{MultiarchTriplet}", "/lib32", "/usr/lib32", "/lib", "/usr/lib" };

    /// <summary>Finds an architecture by GOARCH name or a common alias; <paramref name="normalizedFrom"/> is set for an alias.</summary>
    public static TargetArchitecture? Find(string name, out string? normalizedFrom)
    {
        normalizedFrom = null;
        string trimmed = name.Trim();
        TargetArchitecture? exact = Known.FirstOrDefault(k => k.GoArch == trimmed);
        if (exact is not null)
        {
            return exact;
        }

        if (Aliases.TryGetValue(trimmed, out string? goArch))
        {
            normalizedFrom = trimmed;
            return Known.First(k => k.GoArch == goArch);
        }

        return null;
    }

    /// <summary>The architecture of a RuntimeIdentifier such as <c>linux-x64</c> or <c>linux-musl-arm64</c>.</summary>
    public static TargetArchitecture? FromRuntimeIdentifier(string rid)
    {
        int dash = rid.LastIndexOf('-');
        string arch = dash < 0 ? rid : rid[(dash + 1)..];
        return Known.FirstOrDefault(k => string.Equals(k.RidArch, arch, StringComparison.OrdinalIgnoreCase));
    }

    public override string ToString() => GoArch;
}
