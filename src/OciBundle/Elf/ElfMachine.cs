namespace OciBundle.Elf;

/// <summary>ELF <c>e_machine</c> values and their GOARCH names, the names OCI uses for architectures.</summary>
public static class ElfMachine
{
    public const ushort X86 = 3;
    public const ushort Mips = 8;
    public const ushort PowerPC64 = 21;
    public const ushort S390 = 22;
    public const ushort Arm = 40;
    public const ushort X86_64 = 62;
    public const ushort AArch64 = 183;
    public const ushort RiscV = 243;
    public const ushort LoongArch = 258;

    /// <summary>The GOARCH name of a machine, or null when OCI has none for it.</summary>
    public static string? ToGoArch(ElfIdentity id) => id.Machine switch
    {
        X86_64 when id.Class == ElfClass.Elf64 => "amd64",
        X86 => "386",
        AArch64 when id.Class == ElfClass.Elf64 => "arm64",
        Arm => "arm",
        PowerPC64 => id.IsLittleEndian ? "ppc64le" : "ppc64",
        S390 when id.Class == ElfClass.Elf64 => "s390x",
        RiscV when id.Class == ElfClass.Elf64 => "riscv64",
        LoongArch when id.Class == ElfClass.Elf64 => "loong64",
        Mips => id.Class == ElfClass.Elf64 ? (id.IsLittleEndian ? "mips64le" : "mips64") : (id.IsLittleEndian ? "mipsle" : "mips"),
        _ => null,
    };

    public static string Describe(ushort machine) => machine switch
    {
        X86 => "x86",
        Mips => "MIPS",
        PowerPC64 => "PowerPC64",
        S390 => "S/390",
        Arm => "ARM",
        X86_64 => "x86-64",
        AArch64 => "AArch64",
        RiscV => "RISC-V",
        LoongArch => "LoongArch",
        _ => $"machine {machine}",
    };
}
