using System.Formats.Tar;
using System.IO.Compression;
using Microsoft.Build.Utilities;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Elf;
using OciBundle.Model;
using OciBundle.Planning;
using OciBundle.Rootfs;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// Issue 29: the modes of the bundle and of every image layer are the product's, decided by what a file is: never the
/// build machine's umask, nor the modes of whoever filled a cache (NuGet marks every file u+x).
/// </summary>
[TestClass]
public sealed class FileModeTests
{
    private const UnixFileMode Data = (UnixFileMode)0b110_100_100, Program = (UnixFileMode)0b111_101_101, Folder = (UnixFileMode)0b111_101_101;

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    /// <summary>
    /// The fixture's app (a script named Hello, .NET's shim) plus what a NuGet cache and a umask make of a publish
    /// folder: an assembly 0744, a data file 0744, a PIE program without any execute bit, a shared library with them.
    /// </summary>
    private static void AddFiles(SafetyTests.Fixture f)
    {
        File.WriteAllText(Path.Combine(f.PublishDir, "Hello.dll"), "MZ an assembly");
        File.WriteAllText(Path.Combine(f.PublishDir, "Hello.runtimeconfig.json.txt"), "{}");
        Directory.CreateDirectory(Path.Combine(f.PublishDir, "tools"));
        File.Copy("/usr/bin/true", Path.Combine(f.PublishDir, "tools", "true"));
        File.WriteAllText(Path.Combine(f.PublishDir, "tools", "notes.txt"), "#!not run: no execute bit\n");
    }

    /// <summary>Every mode as a build machine with umask 022 and a NuGet cache filled by root would leave it.</summary>
    private static void Usual(SafetyTests.Fixture f)
    {
        Chmod(f.PublishDir, 0b111_101_101);
        Chmod(Path.Combine(f.PublishDir, "Hello"), 0b111_101_101);
        Chmod(Path.Combine(f.PublishDir, "Hello.dll"), 0b111_100_100); // NuGet: 0766 & ~umask
        Chmod(Path.Combine(f.PublishDir, "libSystem.Native.so"), 0b111_100_100);
        Chmod(Path.Combine(f.PublishDir, "Hello.runtimeconfig.json.txt"), 0b110_100_100);
        Chmod(Path.Combine(f.PublishDir, "tools"), 0b111_101_101);
        Chmod(Path.Combine(f.PublishDir, "tools", "true"), 0b111_101_101);
        Chmod(Path.Combine(f.PublishDir, "tools", "notes.txt"), 0b110_100_100);
    }

    /// <summary>The same files under umask 077, from a cache another user filled with 0600 files, its folders 0700.</summary>
    private static void Odd(SafetyTests.Fixture f)
    {
        Chmod(f.PublishDir, 0b111_000_000);
        Chmod(Path.Combine(f.PublishDir, "Hello"), 0b111_000_000);
        Chmod(Path.Combine(f.PublishDir, "Hello.dll"), 0b110_000_000);
        Chmod(Path.Combine(f.PublishDir, "libSystem.Native.so"), 0b111_000_000);
        Chmod(Path.Combine(f.PublishDir, "Hello.runtimeconfig.json.txt"), 0b111_000_000);
        Chmod(Path.Combine(f.PublishDir, "tools"), 0b111_000_000);
        Chmod(Path.Combine(f.PublishDir, "tools", "true"), 0b110_000_000);
        Chmod(Path.Combine(f.PublishDir, "tools", "notes.txt"), 0b110_000_000); // 0644 under umask 077: its execute bit is the one input a script's mode follows
        string lib = Path.Combine(f.Sysroot, "usr", "lib", "x86_64-linux-gnu");
        // A sysroot folder's files must stay readable and reachable by everyone (the host-file rule, OCIB1318): odd
        // modes of that kind only.
        Chmod(Path.Combine(lib, "ld-linux-x86-64.so.2"), 0b110_100_100);
        Chmod(Path.Combine(lib, "libc.so.6"), 0b110_000_100);
        Chmod(lib, 0b111_001_001);
    }

    private static void Chmod(string path, int mode) => File.SetUnixFileMode(path, (UnixFileMode)mode);

    /// <summary>Path and mode of every entry of every layer, read back from the layout's tar headers.</summary>
    private static SortedDictionary<string, string> LayerHeaders(string layout)
    {
        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal);
        JObject index = JObject.Parse(File.ReadAllText(Path.Combine(layout, "index.json")));
        JObject manifest = JObject.Parse(File.ReadAllText(Path.Combine(layout, "blobs", "sha256", ((string)index["manifests"]![0]!["digest"]!)[7..])));
        foreach (JToken layer in manifest["layers"]!)
        {
            using FileStream blob = File.OpenRead(Path.Combine(layout, "blobs", "sha256", ((string)layer["digest"]!)[7..]));
            using var gzip = new GZipStream(blob, CompressionMode.Decompress);
            using var tar = new TarReader(gzip);
            while (tar.GetNextEntry() is { } entry)
            {
                headers["/" + entry.Name.TrimEnd('/')] = $"{entry.EntryType} {Octal(entry.Mode)} {entry.Uid}:{entry.Gid}";
            }
        }

        return headers;
    }

    private static string ModeOf(string rootfs, string path) => Octal(File.GetUnixFileMode(rootfs + path));

    [TestMethod]
    public void TheBundleAndEveryLayerHaveTheProductsModesWhateverTheUmaskAndTheCacheGave()
    {
        var results = new List<(string Manifest, string Tree, SortedDictionary<string, string> Headers)>();
        foreach (Action<SafetyTests.Fixture> modes in new Action<SafetyTests.Fixture>[] { Usual, Odd })
        {
            using var f = new SafetyTests.Fixture();
            AddFiles(f);
            modes(f);
            string layout = Path.Combine(f.Root, "proj", "bin", "oci-image");
            f.Publish(t => t.ImageDirectory = layout);
            string rootfs = Path.Combine(f.Bundle, "rootfs");

            // Programs 0755 (the app host, an ELF program whatever its bits, the interpreter, libc.so.6, which has one
            // and runs); everything else 0644 (an assembly, a library and a data file NuGet made executable); folders 0755.
            Assert.AreEqual("0755", ModeOf(rootfs, "/app/Hello"), "the app host");
            Assert.AreEqual("0755", ModeOf(rootfs, "/app/tools/true"), "a PIE program, whatever its source's bits");
            Assert.AreEqual("0755", ModeOf(rootfs, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), "the interpreter: the kernel executes it");
            Assert.AreEqual("0755", ModeOf(rootfs, "/usr/lib/x86_64-linux-gnu/libc.so.6"), "libc.so.6 has an interpreter: a program too");
            Assert.AreEqual("0644", ModeOf(rootfs, "/app/libSystem.Native.so"), "a shared library is mapped, never executed");
            Assert.AreEqual("0644", ModeOf(rootfs, "/app/Hello.dll"), "an assembly, executable in the NuGet cache");
            Assert.AreEqual("0644", ModeOf(rootfs, "/app/Hello.runtimeconfig.json.txt"));
            Assert.AreEqual("0644", ModeOf(rootfs, "/app/tools/notes.txt"), "#! without an execute bit is not a script");
            foreach (string folder in new[] { "/", "/app", "/app/tools", "/usr/lib/x86_64-linux-gnu", "/home/app" })
            {
                Assert.AreEqual("0755", ModeOf(rootfs, folder), folder);
            }

            Assert.AreEqual("1777", ModeOf(rootfs, "/tmp"));
            Assert.AreEqual("0700", ModeOf(rootfs, "/root"));

            // The layers carry the very modes of the plan, and nothing but the normalized ones.
            SortedDictionary<string, string> headers = LayerHeaders(layout);
            foreach ((string path, string header) in headers)
            {
                string expected = header.StartsWith("SymbolicLink", StringComparison.Ordinal) ? "0777"
                    : path == "/tmp" ? "1777" : path == "/root" ? "0700" : ModeOf(rootfs, path);
                Assert.AreEqual(expected, header.Split(' ')[1], $"{path} in the layer: {header}");
                CollectionAssert.Contains(new[] { "0644", "0755", "0777", "1777", "0700" }, expected, path);
            }

            Assert.AreEqual("Directory 0755 1654:1654", headers["/home/app"]);
            JObject index = JObject.Parse(File.ReadAllText(Path.Combine(layout, "index.json")));
            results.Add(((string)index["manifests"]![0]!["digest"]!, TreeFingerprint.Of(rootfs), headers));
        }

        CollectionAssert.AreEqual(results[0].Headers.ToList(), results[1].Headers.ToList(), "the same tar headers");
        Assert.AreEqual(results[0].Tree, results[1].Tree, "the same rootfs: paths, modes, times, contents");
        Assert.AreEqual(results[0].Manifest, results[1].Manifest, "the same image, to the digest");
    }

    [TestMethod]
    public void AnItemsModeWinsAndAFileReusedFromTheLastBundleGetsTheModeThePlanWants()
    {
        using var f = new SafetyTests.Fixture();
        string secret = Path.Combine(f.Root, "token.txt");
        File.WriteAllText(secret, "not for uid 1654");
        string tool = Path.Combine(f.Root, "run.sh");
        File.WriteAllText(tool, "echo no #! line\n");
        static TaskItem Item(string source, string target, string mode)
        {
            var item = new TaskItem(source);
            item.SetMetadata("TargetPath", target);
            item.SetMetadata("Mode", mode);
            return item;
        }

        f.Publish(t => t.Files = new[] { Item(secret, "/etc/app/token", "0644"), Item(tool, "/app/run.sh", "755") });
        string rootfs = Path.Combine(f.Bundle, "rootfs");
        Assert.AreEqual("0644", ModeOf(rootfs, "/etc/app/token"));
        Assert.AreEqual("0755", ModeOf(rootfs, "/app/run.sh"), "Mode makes a file without #! executable");
        ulong inode = Interop.NativeMethods.LStat(rootfs + "/app/libSystem.Native.so")!.Value.Inode;

        // Only the mode changes, not the source: the previous copy (0644) is not linked into a bundle that wants 0600.
        f.Publish(t => t.Files = new[] { Item(secret, "/etc/app/token", "0600"), Item(tool, "/app/run.sh", "755") });
        Assert.AreEqual("0600", ModeOf(rootfs, "/etc/app/token"));
        Assert.AreEqual(inode, Interop.NativeMethods.LStat(rootfs + "/app/libSystem.Native.so")!.Value.Inode, "an unchanged file is still linked from the last bundle");

        foreach (string bad in new[] { "0666", "0620", "4755", "1755", "0888", "rwxr-xr-x", "07555" })
        {
            CollectionAssert.AreEqual(new[] { "OCIB1530" }, f.Fail(t => t.Files = new[] { Item(secret, "/etc/app/token", bad) }), bad);
            StringAssert.Contains(f.Engine.Errors.Single().Message, $"Mode '{bad}'");
        }

        Assert.AreEqual("0600", ModeOf(rootfs, "/etc/app/token"), "a refused Mode leaves the bundle as it was");
    }

    [TestMethod]
    public void TheRuleReadsProgramsFromTheirElfHeaders()
    {
        TestEnvironment.Require(TestEnvironment.Which("gcc") is not null, "gcc is not installed (it makes the static-pie and non-PIE programs)");
        using var dir = new TempDirectory();
        File.WriteAllText(dir.Combine("main.c"), "int main(void) { return 0; }\n");
        foreach ((string name, string flag) in new[] { ("static-pie", "-static-pie"), ("no-pie", "-no-pie"), ("pie", "-pie") })
        {
            ProcessResult cc = TestEnvironment.RunCapture("gcc", flag, "-o", dir.Combine(name), dir.Combine("main.c"));
            Assert.AreEqual(0, cc.ExitCode, cc.All);
        }

        Assert.IsTrue(ElfFile.Read(dir.Combine("static-pie")).IsProgram, "ET_DYN with no interpreter but DF_1_PIE");
        Assert.IsNull(ElfFile.Read(dir.Combine("static-pie")).Interpreter);
        Assert.IsTrue(ElfFile.Read(dir.Combine("no-pie")).IsProgram, "ET_EXEC");
        Assert.IsTrue(ElfFile.Read(dir.Combine("pie")).IsProgram, "ET_DYN with an interpreter");
        Assert.IsTrue(ElfFile.Read("/lib/x86_64-linux-gnu/libc.so.6").IsProgram, "libc.so.6 runs: it has an interpreter");
        Assert.IsFalse(ElfFile.Read("/lib/x86_64-linux-gnu/libm.so.6").IsProgram, "a plain shared library");
        Assert.IsFalse(ElfFile.Read("/lib64/ld-linux-x86-64.so.2").IsProgram, "ld.so by its headers alone (the closure knows it as the interpreter)");

        File.WriteAllText(dir.Combine("script"), "#!/bin/sh\n");
        File.WriteAllText(dir.Combine("text"), "#");
        Assert.IsTrue(ProgramModes.IsScript(dir.Combine("script")));
        Assert.IsFalse(ProgramModes.IsScript(dir.Combine("text")));
        Assert.IsFalse(ProgramModes.IsScript(dir.Combine("missing")));
    }

    [TestMethod]
    public void AGivenModeIsThreeOctalDigitsThatNoOtherUserMayWrite()
    {
        foreach ((string text, int mode) in new[] { ("0644", 0b110_100_100), ("644", 0b110_100_100), ("0755", 0b111_101_101), ("0600", 0b110_000_000), ("0444", 0b100_100_100), (" 0700 ", 0b111_000_000) })
        {
            Assert.AreEqual((UnixFileMode)mode, FileModes.ParseGiven(text), text);
        }

        foreach (string text in new[] { "", "0666", "0646", "0664", "4755", "2755", "1755", "755x", "0o755", "u+x", "-1", "00755", "77" })
        {
            Assert.IsNull(FileModes.ParseGiven(text), text);
        }
    }
}
