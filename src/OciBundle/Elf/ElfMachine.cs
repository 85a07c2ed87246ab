namespace OciBundle.Elf;

/// <summary>ELF <c>e_machine</c> values, and their names for messages.</summary>
internal static class ElfMachine
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
