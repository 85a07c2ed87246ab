using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace OciBundle.Elf;

/// <summary>The reader of <see cref="ElfFile"/>: positioned reads of the headers, the program headers, the dynamic segment and its string table.</summary>
internal sealed partial class ElfFile
{
    private const int PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3;
    private const long DT_NULL = 0, DT_NEEDED = 1, DT_STRTAB = 5, DT_STRSZ = 10, DT_SONAME = 14, DT_RPATH = 15, DT_RUNPATH = 29, DT_FLAGS_1 = 0x6ffffffb;
    private const ulong DF_1_PIE = 0x08000000;

    // Upper bounds that no real file reaches; a header claiming more is corrupt and must not make us allocate it.
    private const int MaxProgramHeaders = 4096;
    private const long MaxDynamicBytes = 1 << 20;
    private const long MaxStringTableBytes = 64 << 20;

    private sealed class Segment
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
            if (ReadHeader(file) is not { } segments)
            {
                return; // an object file or a stripped-down image: nothing to link
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

            if (segments.FirstOrDefault(s => s.Type == PT_DYNAMIC) is { Type: PT_DYNAMIC } dynamic)
            {
                ReadDynamic(file, segments, dynamic);
            }
        }

        /// <summary>The identification and the ELF header, then the program headers: null when there are none.</summary>
        private List<Segment>? ReadHeader(ElfFile file)
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
                return null;
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

            return segments;
        }

        /// <summary>The dynamic segment: <c>DT_NEEDED</c>, <c>DT_RPATH</c>, <c>DT_RUNPATH</c>, <c>DT_SONAME</c> (names in its string table) and the PIE flag.</summary>
        private void ReadDynamic(ElfFile file, List<Segment> segments, Segment dynamic)
        {
            if (dynamic.FileSize > MaxDynamicBytes)
            {
                throw Corrupt($"dynamic segment of {dynamic.FileSize} bytes");
            }

            byte[] dyn = ReadAt(dynamic.Offset, (long)dynamic.FileSize, "dynamic segment");
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

            byte[] strings = ReadStringTable(segments, strtab, strsz);
            string Name(ulong offset) => offset < (ulong)strings.Length ? CString(strings, (int)offset) : throw Corrupt($"string offset {offset} beyond the string table");
            // Loops, not LINQ over the offsets: framework generics over a value type are compiled on every publish.
            string[] Names(List<ulong> offsets, bool split)
            {
                var names = new List<string>(offsets.Count);
                for (int i = 0; i < offsets.Count; i++)
                {
                    if (split)
                    {
                        names.AddRange(SplitPath(Name(offsets[i])));
                    }
                    else
                    {
                        names.Add(Name(offsets[i]));
                    }
                }

                return names.ToArray();
            }

            file.Needed = Names(needed, split: false);
            file.RPath = Names(rpath, split: true);
            file.RunPath = Names(runpath, split: true);
            file.SoName = soname is null ? null : Name(soname.Value);
        }

        private byte[] ReadStringTable(List<Segment> segments, ulong? strtab, ulong? strsz)
        {
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
            return ReadAt(strOffset, (long)strsz.Value, "dynamic string table");
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
