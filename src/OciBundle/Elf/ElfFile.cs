using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace OciBundle.Elf;

/// <summary>
/// The dynamic-linking facts of one ELF file: class, byte order, machine, interpreter and the
/// <c>DT_NEEDED</c>/<c>DT_RPATH</c>/<c>DT_RUNPATH</c>/<c>DT_SONAME</c> entries.
/// </summary>
/// <remarks>
/// Written by hand on purpose: the only ELF library served here (LibObjectFile) parses every section of a
/// file into an object model, which costs milliseconds a file and the whole file in memory. Closure discovery
/// needs a few hundred bytes of each file (header, program headers, dynamic segment, its string table), read
/// with positioned reads, so a self-contained app's ~20 native files are read in well under a millisecond each.
/// </remarks>
internal sealed partial class ElfFile
{
    private ElfFile(string path) => Path = path;

    public string Path { get; }
    public ElfClass Class { get; private set; }
    public bool IsLittleEndian { get; private set; }
    public ushort Machine { get; private set; }
    public ElfType Type { get; private set; }
    public string? Interpreter { get; private set; }
    public IReadOnlyList<string> Needed { get; private set; } = Array.Empty<string>();
    public IReadOnlyList<string> RPath { get; private set; } = Array.Empty<string>();
    public IReadOnlyList<string> RunPath { get; private set; } = Array.Empty<string>();
    public string? SoName { get; private set; }

    /// <summary>
    /// A separate debug-symbol file (<c>objcopy --only-keep-debug</c>, as Native AOT's <c>app.dbg</c>): its headers
    /// describe the program, but its segments have no bytes in the file (<c>PT_INTERP</c> and <c>PT_DYNAMIC</c> are empty). Data to
    /// the loader: never run, never loaded, so it has no closure.
    /// </summary>
    public bool IsDebugOnly { get; private set; }

    /// <summary><c>DF_1_PIE</c> in <c>DT_FLAGS_1</c>: a position-independent executable, a static-pie one (no interpreter) included.</summary>
    public bool IsPie { get; private set; }

    /// <summary>
    /// A program the kernel runs: <c>ET_EXEC</c>, or <c>ET_DYN</c> with an interpreter or the PIE flag (a PIE program,
    /// <c>libc.so.6</c>, which runs too); not a plain shared library, and never a separate debug-symbol file.
    /// </summary>
    public bool IsProgram => !IsDebugOnly && (Type == ElfType.Executable || (Type == ElfType.SharedObject && (!string.IsNullOrEmpty(Interpreter) || IsPie)));

    public ElfIdentity Identity => new(Class, IsLittleEndian, Machine);

    /// <summary>True when the file starts with the ELF magic. Never throws for unreadable files.</summary>
    public static bool HasElfMagic(string path)
    {
        try
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> magic = stackalloc byte[4];
            return RandomAccess.Read(handle, magic, 0) == 4 && IsMagic(magic);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    private static bool IsMagic(ReadOnlySpan<byte> b) => b.Length >= 4 && b[0] == 0x7f && b[1] == (byte)'E' && b[2] == (byte)'L' && b[3] == (byte)'F';

    /// <summary>Reads only the identification bytes (class, byte order, machine); for probing candidates.</summary>
    public static ElfIdentity? TryReadIdentity(string path)
    {
        try
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> header = stackalloc byte[20];
            if (RandomAccess.Read(handle, header, 0) < 20 || !IsMagic(header))
            {
                return null;
            }

            var cls = (ElfClass)header[4];
            if ((cls != ElfClass.Elf32 && cls != ElfClass.Elf64) || (header[5] != 1 && header[5] != 2))
            {
                return null;
            }

            bool little = header[5] == 1;
            ushort machine = little ? BinaryPrimitives.ReadUInt16LittleEndian(header[18..]) : BinaryPrimitives.ReadUInt16BigEndian(header[18..]);
            return new ElfIdentity(cls, little, machine);
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>Reads the file's dynamic-linking facts, or returns null when it is not ELF (one open either way).</summary>
    /// <exception cref="ElfFormatException">The file starts like ELF but is truncated or its headers point outside it.</exception>
    public static ElfFile? TryRead(string path)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        using (handle)
        {
            Span<byte> magic = stackalloc byte[4];
            if (RandomAccess.Read(handle, magic, 0) < 4 || !IsMagic(magic))
            {
                return null;
            }

            var file = new ElfFile(path);
            new Reader(handle, path, RandomAccess.GetLength(handle)).Parse(file);
            return file;
        }
    }

    /// <summary>Reads the file's dynamic-linking facts.</summary>
    /// <exception cref="ElfFormatException">The file is not ELF, is truncated, or its headers point outside it.</exception>
    public static ElfFile Read(string path)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ElfFormatException(path, e.Message);
        }

        using (handle)
        {
            var file = new ElfFile(path);
            new Reader(handle, path, RandomAccess.GetLength(handle)).Parse(file);
            return file;
        }
    }
}

internal enum ElfClass : byte
{
    Elf32 = 1,
    Elf64 = 2,
}

internal enum ElfType : ushort
{
    None = 0,
    Relocatable = 1,
    Executable = 2,
    SharedObject = 3,
    Core = 4,
}

/// <summary>What must match between a file and the libraries it may load: class, byte order, machine (a class: a framework dictionary of a value type is compiled on each publish).</summary>
internal sealed record ElfIdentity(ElfClass Class, bool IsLittleEndian, ushort Machine)
{
    public override string ToString() => $"{(Class == ElfClass.Elf64 ? "64" : "32")}-bit {(IsLittleEndian ? "LSB" : "MSB")} {ElfMachine.Describe(Machine)}";

    // Written out: the record's own compares each field through EqualityComparer<T>, compiled on every publish for the enum.
    public bool Equals(ElfIdentity? other) =>
        other is not null && Class == other.Class && IsLittleEndian == other.IsLittleEndian && Machine == other.Machine;

    public override int GetHashCode() => ((int)Class << 24) ^ (IsLittleEndian ? 1 << 16 : 0) ^ Machine;
}

/// <summary>The file is not a well-formed ELF file.</summary>
internal sealed class ElfFormatException : Exception
{
    public ElfFormatException(string path, string reason)
        : base($"{path}: {reason}")
    {
        FilePath = path;
        Reason = reason;
    }

    public string FilePath { get; }
    public string Reason { get; }
}
