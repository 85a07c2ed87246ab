using System.Buffers.Binary;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Elf;
using OciBundle.Testing;

namespace OciBundle.Tests;

[TestClass]
public sealed class ElfFileTests
{
    [TestMethod]
    public void ReadsInterpreterAndNeededLibrariesOfBinLs()
    {
        ElfFile ls = ElfFile.Read("/bin/ls");

        Assert.AreEqual(ElfClass.Elf64, ls.Class);
        Assert.IsTrue(ls.IsLittleEndian);
        Assert.AreEqual(ElfMachine.X86_64, ls.Machine, "this test suite runs on x86-64 machines");
        Assert.AreEqual("/lib64/ld-linux-x86-64.so.2", ls.Interpreter);
        CollectionAssert.Contains(ls.Needed.ToList(), "libc.so.6");
        // Same answer as binutils: the ground truth for DT_NEEDED.
        string readelf = TestEnvironment.RunCapture("readelf", "-d", "/bin/ls").Output;
        var expected = readelf.Split('\n').Where(l => l.Contains("(NEEDED)")).Select(l => l[(l.IndexOf('[') + 1)..l.IndexOf(']')]).ToList();
        CollectionAssert.AreEqual(expected, ls.Needed.ToList());
    }

    [TestMethod]
    public void ADebugSymbolFileIsDataWithNoInterpreterOrLibraries()
    {
        // What Native AOT's StripSymbols leaves beside the executable (app.dbg): objcopy --only-keep-debug.
        TestEnvironment.Require(TestEnvironment.Which("objcopy") is not null, "objcopy (binutils) makes the debug-symbol file");
        using var dir = new TempDirectory();
        string dbg = dir.Combine("ls.dbg");
        Assert.AreEqual(0, TestEnvironment.RunCapture("objcopy", "--only-keep-debug", "/bin/ls", dbg).ExitCode);

        ElfFile symbols = ElfFile.Read(dbg);
        Assert.IsTrue(symbols.IsDebugOnly);
        Assert.IsNull(symbols.Interpreter, "its PT_INTERP has no bytes: reading one gave the empty library name of OCIB2001");
        Assert.AreEqual(0, symbols.Needed.Count);
        Assert.IsFalse(ElfFile.Read("/bin/ls").IsDebugOnly);
    }

    [TestMethod]
    public void ReadsSonameOfLibc()
    {
        string libc = "/lib/x86_64-linux-gnu/libc.so.6";
        TestEnvironment.Require(File.Exists(libc), "a Debian-style x86-64 libc");
        ElfFile elf = ElfFile.Read(libc);
        Assert.AreEqual("libc.so.6", elf.SoName);
        Assert.AreEqual(ElfType.SharedObject, elf.Type);
    }

    [TestMethod]
    public void TruncatedFileGivesAnErrorNamingIt()
    {
        using var dir = new TempDirectory();
        string path = dir.Combine("truncated.so");
        byte[] bytes = File.ReadAllBytes("/bin/ls");
        File.WriteAllBytes(path, bytes[..100]);

        var e = Assert.ThrowsExactly<ElfFormatException>(() => ElfFile.Read(path));
        Assert.AreEqual(path, e.FilePath);
        StringAssert.Contains(e.Message, "truncated");
    }

    [TestMethod]
    public void NonElfFileGivesAnError()
    {
        using var dir = new TempDirectory();
        string path = dir.Combine("text");
        File.WriteAllText(path, "#!/bin/sh\necho hi\n");
        Assert.IsFalse(ElfFile.HasElfMagic(path));
        Assert.ThrowsExactly<ElfFormatException>(() => ElfFile.Read(path));
    }

    [TestMethod]
    public void CorruptProgramHeaderCountIsRejectedNotAllocated()
    {
        using var dir = new TempDirectory();
        string path = dir.Combine("corrupt");
        byte[] bytes = File.ReadAllBytes("/bin/ls")[..4096];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(56), 0xFFFF); // e_phnum
        File.WriteAllBytes(path, bytes);
        var e = Assert.ThrowsExactly<ElfFormatException>(() => ElfFile.Read(path));
        StringAssert.Contains(e.Reason, "program header");
    }

    [TestMethod]
    [DataRow(true, DisplayName = "32-bit little-endian")]
    [DataRow(false, DisplayName = "32-bit big-endian")]
    public void Reads32BitFilesOfBothByteOrders(bool little)
    {
        using var dir = new TempDirectory();
        string path = dir.Combine("synthetic.so");
        File.WriteAllBytes(path, SyntheticElf32(little, ElfMachine.Arm, "/lib/ld-linux-armhf.so.3", new[] { "libfoo.so.1", "libc.so.6" }, runpath: "$ORIGIN/../lib", soname: "libbar.so.2"));

        ElfFile elf = ElfFile.Read(path);

        Assert.AreEqual(ElfClass.Elf32, elf.Class);
        Assert.AreEqual(little, elf.IsLittleEndian);
        Assert.AreEqual(ElfMachine.Arm, elf.Machine);
        Assert.AreEqual("/lib/ld-linux-armhf.so.3", elf.Interpreter);
        CollectionAssert.AreEqual(new[] { "libfoo.so.1", "libc.so.6" }, elf.Needed.ToArray());
        CollectionAssert.AreEqual(new[] { "$ORIGIN/../lib" }, elf.RunPath.ToArray());
        Assert.AreEqual(0, elf.RPath.Count);
        Assert.AreEqual("libbar.so.2", elf.SoName);
        Assert.AreEqual(new ElfIdentity(ElfClass.Elf32, little, ElfMachine.Arm), ElfFile.TryReadIdentity(path));
    }

    /// <summary>A minimal 32-bit ELF: header, PT_LOAD over the whole file, PT_INTERP, PT_DYNAMIC, string table.</summary>
    internal static byte[] SyntheticElf32(bool little, ushort machine, string interp, string[] needed, string? runpath = null, string? rpath = null, string? soname = null)
    {
        var strtab = new List<byte> { 0 };
        int Add(string s)
        {
            int at = strtab.Count;
            strtab.AddRange(Encoding.UTF8.GetBytes(s));
            strtab.Add(0);
            return at;
        }

        var dyn = new List<(int Tag, int Value)>();
        foreach (string n in needed)
        {
            dyn.Add((1, Add(n)));
        }

        if (rpath is not null) dyn.Add((15, Add(rpath)));
        if (runpath is not null) dyn.Add((29, Add(runpath)));
        if (soname is not null) dyn.Add((14, Add(soname)));

        const int ehsize = 52, phentsize = 32, phnum = 3;
        int interpOff = ehsize + (phentsize * phnum);
        byte[] interpBytes = Encoding.ASCII.GetBytes(interp + "\0");
        int strOff = interpOff + interpBytes.Length;
        int dynOff = (strOff + strtab.Count + 3) & ~3;
        dyn.Add((5, dynOff == 0 ? 0 : strOff)); // DT_STRTAB (vaddr == offset: PT_LOAD maps the file at 0)
        dyn.Add((10, strtab.Count));             // DT_STRSZ
        dyn.Add((0, 0));
        int size = dynOff + (dyn.Count * 8);
        var b = new byte[size];
        void U16(int o, int v) { if (little) BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(o), (ushort)v); else BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(o), (ushort)v); }
        void U32(int o, int v) { if (little) BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(o), v); else BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(o), v); }

        b[0] = 0x7f; b[1] = (byte)'E'; b[2] = (byte)'L'; b[3] = (byte)'F';
        b[4] = 1; b[5] = (byte)(little ? 1 : 2); b[6] = 1;
        U16(16, 3); U16(18, machine); U32(20, 1); U32(28, ehsize); U16(40, ehsize); U16(42, phentsize); U16(44, phnum);
        void Ph(int i, int type, int off, int filesz) { int o = ehsize + (i * phentsize); U32(o, type); U32(o + 4, off); U32(o + 8, off); U32(o + 16, filesz); }
        Ph(0, 1, 0, size);
        Ph(1, 3, interpOff, interpBytes.Length);
        Ph(2, 2, dynOff, dyn.Count * 8);
        interpBytes.CopyTo(b, interpOff);
        strtab.ToArray().CopyTo(b, strOff);
        for (int i = 0; i < dyn.Count; i++)
        {
            U32(dynOff + (i * 8), dyn[i].Tag);
            U32(dynOff + (i * 8) + 4, dyn[i].Value);
        }

        return b;
    }
}
