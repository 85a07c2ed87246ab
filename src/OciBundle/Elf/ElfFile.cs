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
internal sealed class ElfFile
{
    private const int PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3;
    private const long DT_NULL = 0, DT_NEEDED = 1, DT_STRTAB = 5, DT_STRSZ = 10, DT_SONAME = 14, DT_RPATH = 15, DT_RUNPATH = 29, DT_FLAGS_1 = 0x6ffffffb;
    private const ulong DF_1_PIE = 0x08000000;

    // Upper bounds that no real file reaches; a header claiming more is corrupt and must not make us allocate it.
    private const int MaxProgramHeaders = 4096;
    private const long MaxDynamicBytes = 1 << 20;
    private const long MaxStringTableBytes = 64 << 20;

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

    private readonly struct Segment
    {
        public Segment(int type, ulong offset, ulong vaddr, ulong fileSize)
        {
            Type = type; Offset = offset; VAddr = vaddr; FileSize = fileSize;
        }

        public int Type { get; }
        public ulong Offset { get; }
        public ulong VAddr { get; }
        public ulong FileSize { get; }
    }

    private sealed class Reader
    {
        private readonly SafeFileHandle _handle;
        private readonly string _path;
        private readonly long _length;
        private bool _little;
        private bool _is64;

        public Reader(SafeFileHandle handle, string path, long length)
        {
            _handle = handle; _path = path; _length = length;
        }

        public void Parse(ElfFile file)
        {
            byte[] ident = ReadAt(0, 16, "identification");
            if (!IsMagic(ident))
            {
                throw Corrupt("not an ELF file (no ELF magic)");
            }

            file.Class = (ElfClass)ident[4];
            if (file.Class != ElfClass.Elf32 && file.Class != ElfClass.Elf64)
            {
                throw Corrupt($"unknown ELF class {ident[4]}");
            }

            if (ident[5] != 1 && ident[5] != 2)
            {
                throw Corrupt($"unknown ELF data encoding {ident[5]}");
            }

            _is64 = file.Class == ElfClass.Elf64;
            _little = file.IsLittleEndian = ident[5] == 1;

            byte[] header = ReadAt(0, _is64 ? 64 : 52, "ELF header");
            file.Type = (ElfType)U16(header, 16);
            file.Machine = U16(header, 18);
            ulong phoff = _is64 ? U64(header, 32) : U32(header, 28);
            int phentsize = U16(header, _is64 ? 54 : 42);
            int phnum = U16(header, _is64 ? 56 : 44);
            if (phnum == 0)
            {
                return; // an object file or a stripped-down image: nothing to link
            }

            int minEntry = _is64 ? 56 : 32;
            if (phentsize < minEntry || phnum > MaxProgramHeaders)
            {
                throw Corrupt($"implausible program header table ({phnum} entries of {phentsize} bytes)");
            }

            byte[] table = ReadAt(phoff, (long)phentsize * phnum, "program header table");
            var segments = new List<Segment>(phnum);
            for (int i = 0; i < phnum; i++)
            {
                int o = i * phentsize;
                int type = (int)U32(table, o);
                Segment s = _is64
                    ? new Segment(type, U64(table, o + 8), U64(table, o + 16), U64(table, o + 32))
                    : new Segment(type, U32(table, o + 4), U32(table, o + 8), U32(table, o + 16));
                segments.Add(s);
            }

            // A program's interpreter name and dynamic table are bytes of the file; a symbol file keeps their headers only.
            if (segments.Any(s => s.Type is PT_INTERP or PT_DYNAMIC && s.FileSize == 0))
            {
                file.IsDebugOnly = true;
                return;
            }

            foreach (Segment s in segments)
            {
                if (s.Type == PT_INTERP)
                {
                    file.Interpreter = CString(ReadAt(s.Offset, (long)Math.Min(s.FileSize, 4096), "PT_INTERP"), 0);
                }
            }

            Segment? dynamic = segments.FirstOrDefault(s => s.Type == PT_DYNAMIC) is { Type: PT_DYNAMIC } d ? d : null;
            if (dynamic is null)
            {
                return;
            }

            if (dynamic.Value.FileSize > MaxDynamicBytes)
            {
                throw Corrupt($"dynamic segment of {dynamic.Value.FileSize} bytes");
            }

            byte[] dyn = ReadAt(dynamic.Value.Offset, (long)dynamic.Value.FileSize, "dynamic segment");
            int entrySize = _is64 ? 16 : 8;
            var needed = new List<ulong>();
            var rpath = new List<ulong>();
            var runpath = new List<ulong>();
            ulong? soname = null, strtab = null, strsz = null;
            for (int o = 0; o + entrySize <= dyn.Length; o += entrySize)
            {
                long tag = _is64 ? (long)U64(dyn, o) : (int)U32(dyn, o);
                ulong val = _is64 ? U64(dyn, o + 8) : U32(dyn, o + 4);
                switch (tag)
                {
                    case DT_NULL: o = dyn.Length; break;
                    case DT_NEEDED: needed.Add(val); break;
                    case DT_RPATH: rpath.Add(val); break;
                    case DT_RUNPATH: runpath.Add(val); break;
                    case DT_SONAME: soname = val; break;
                    case DT_STRTAB: strtab = val; break;
                    case DT_STRSZ: strsz = val; break;
                    case DT_FLAGS_1: file.IsPie = (val & DF_1_PIE) != 0; break;
                }
            }

            if (needed.Count == 0 && rpath.Count == 0 && runpath.Count == 0 && soname is null)
            {
                return;
            }

            if (strtab is null || strsz is null)
            {
                throw Corrupt("dynamic segment has names but no DT_STRTAB/DT_STRSZ");
            }

            if (strsz.Value > MaxStringTableBytes)
            {
                throw Corrupt($"string table of {strsz.Value} bytes");
            }

            // DT_STRTAB is a virtual address: find the loaded segment that maps it to find it in the file.
            ulong strOffset = MapAddress(segments, strtab.Value)
                ?? throw Corrupt($"DT_STRTAB address 0x{strtab.Value:x} is in no PT_LOAD segment");
            byte[] strings = ReadAt(strOffset, (long)strsz.Value, "dynamic string table");

            string Name(ulong offset) => offset < (ulong)strings.Length ? CString(strings, (int)offset) : throw Corrupt($"string offset {offset} beyond the string table");
            file.Needed = needed.Select(Name).ToArray();
            file.RPath = rpath.SelectMany(v => SplitPath(Name(v))).ToArray();
            file.RunPath = runpath.SelectMany(v => SplitPath(Name(v))).ToArray();
            file.SoName = soname is null ? null : Name(soname.Value);
        }

        private static IEnumerable<string> SplitPath(string value) => value.Split(':', StringSplitOptions.RemoveEmptyEntries);

        private static ulong? MapAddress(List<Segment> segments, ulong vaddr)
        {
            foreach (Segment s in segments)
            {
                if (s.Type == PT_LOAD && vaddr >= s.VAddr && vaddr - s.VAddr < s.FileSize)
                {
                    return s.Offset + (vaddr - s.VAddr);
                }
            }

            return null;
        }

        private byte[] ReadAt(ulong offset, long count, string what)
        {
            if (count < 0 || offset > (ulong)_length || (ulong)count > (ulong)_length - offset)
            {
                throw Corrupt($"truncated: {what} at offset {offset} ({count} bytes) lies beyond the end of the file ({_length} bytes)");
            }

            var buffer = new byte[count];
            int read = 0;
            while (read < count)
            {
                int n = RandomAccess.Read(_handle, buffer.AsSpan(read), (long)offset + read);
                if (n <= 0)
                {
                    throw Corrupt($"truncated while reading the {what}");
                }

                read += n;
            }

            return buffer;
        }

        private static string CString(byte[] bytes, int start)
        {
            int end = Array.IndexOf(bytes, (byte)0, start);
            return Encoding.UTF8.GetString(bytes, start, (end < 0 ? bytes.Length : end) - start);
        }

        private ushort U16(byte[] b, int o)
        {
            Check(b, o, 2);
            return _little ? BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(o)) : BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(o));
        }

        private uint U32(byte[] b, int o)
        {
            Check(b, o, 4);
            return _little ? BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o)) : BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(o));
        }

        private ulong U64(byte[] b, int o)
        {
            Check(b, o, 8);
            return _little ? BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(o)) : BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(o));
        }

        private void Check(byte[] b, int o, int n)
        {
            if (o + n > b.Length)
            {
                throw Corrupt("truncated header");
            }
        }

        private ElfFormatException Corrupt(string reason) => new(_path, reason);
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

/// <summary>What must match between a file and the libraries it may load: class, byte order, machine.</summary>
internal readonly record struct ElfIdentity(ElfClass Class, bool IsLittleEndian, ushort Machine)
{
    public override string ToString() => $"{(Class == ElfClass.Elf64 ? "64" : "32")}-bit {(IsLittleEndian ? "LSB" : "MSB")} {ElfMachine.Describe(Machine)}";
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
