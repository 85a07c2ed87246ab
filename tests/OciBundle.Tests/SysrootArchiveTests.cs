using System.Formats.Tar;
using System.IO.Compression;
using Microsoft.Build.Framework;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Closure;
using OciBundle.Diagnostics;
using OciBundle.Request;
using OciBundle.State;
using OciBundle.Sysroots;
using OciBundle.Tasks;
using OciBundle.Testing;
using OciBundle.Model;

namespace OciBundle.Tests;

/// <summary>
/// Issue 15, in the engine: OciBundleSysroot as a tarball (plain, gzip, zstd), an OCI image layout (with a tag) or an
/// OCI archive, unpacked once into the cache, pinned by digest, and hostile archives that never write outside the cache.
/// </summary>
[TestClass]
public sealed class SysrootArchiveTests
{

    private static readonly TargetArchitecture Amd64 = TargetArchitecture.Find("amd64", out _)!;

    /// <summary>A publish folder and a small amd64 sysroot folder (this machine's libc), plus a cache and a folder outside everything.</summary>
    private sealed class Fixture : IDisposable
    {
        private readonly TempDirectory _dir = new("ocibundle-sysroot-");

        public Fixture()
        {
            SafetyTests.Fixture.MakeApp(PublishDir);
            SafetyTests.Fixture.MakeSysroot(Folder);
            Directory.CreateDirectory(Outside);
            Directory.CreateDirectory(Cache);
        }

        public string Root => _dir.Path;
        public string PublishDir => _dir.Combine("proj", "bin", "publish");
        public string Bundle => _dir.Combine("proj", "bin", "oci-bundle");
        public string Folder => _dir.Combine("sysroot");
        public string Cache => _dir.Combine("cache");
        public string Outside => _dir.Combine("outside");
        public string State => _dir.Combine("proj", "obj", "state");
        public FakeBuildEngine Engine { get; private set; } = new();

        /// <summary>The sysroot folder as a tarball, as mmdebstrap writes one ('./' names).</summary>
        public string Tarball(string name = "sysroot.tar")
        {
            string path = _dir.Combine(name);
            TarFile.CreateFromDirectory(Folder, path, includeBaseDirectory: false);
            return path;
        }

        public BuildOciContainer Task(Action<BuildOciContainer>? change)
        {
            Engine = new FakeBuildEngine();
            BuildOciContainer task = TargetDefaults.Task();
            task.BuildEngine = Engine;
            task.PublishDirectory = PublishDir;
            task.BundleDirectory = Bundle;
            task.ProjectDirectory = _dir.Combine("proj");
            task.AppName = "Hello";
            task.AppHost = "Hello";
            task.SysrootCache = Cache;
            task.IncludeTimeZoneData = false;
            task.StateFile = State;
            change?.Invoke(task);
            return task;
        }

        public void Publish(Action<BuildOciContainer>? change = null)
        {
            BuildOciContainer task = Task(change);
            Assert.IsTrue(task.Execute(), string.Join("\n", Engine.Errors.Select(e => $"{e.Code}: {e.Message}")));
        }

        public string[] Fail(Action<BuildOciContainer>? change = null)
        {
            Assert.IsFalse(Task(change).Execute());
            return Engine.Errors.Select(e => e.Code).ToArray();
        }

        public string Log => string.Join("\n", Engine.Messages.Select(m => m.Message));

        public JObject Provenance => JObject.Parse(File.ReadAllText(Path.Combine(Bundle, "provenance.json")));

        public string RootfsOf(string path) => Path.Combine(Bundle, "rootfs") + path;

        /// <summary>Everything under the fixture's folder except the cache: what a hostile archive must never change.</summary>
        public string OutsideCache() => string.Join("\n", Directory.EnumerateFileSystemEntries(Root, "*", SearchOption.AllDirectories)
            .Where(p => !p.StartsWith(Cache + "/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));

        public void Dispose() => _dir.Dispose();
    }

    /// <summary>A tree's paths, types, modes, link targets and contents (not times: the cache's folders are dated when unpacked).</summary>
    private static string Tree(string root) => string.Join("\n", TreeFingerprint.Of(root).Split('\n').Select(l => l.Contains(" dir ", StringComparison.Ordinal) ? l[..l.LastIndexOf(' ')] : System.Text.RegularExpressions.Regex.Replace(l, " [0-9]+ ([0-9A-F]{64})$", " $1")));

    private static MaterializedSysroot Materialize(Fixture f, string sysroot, string? digest = null, string goArch = "amd64", List<string>? log = null)
    {
        var errors = new ParseErrors();
        SysrootSpec spec = SysrootSpec.Parse(sysroot, digest, f.Cache, f.Root, errors);
        if (errors.All.Count > 0)
        {
            throw errors.All[0];
        }

        return SysrootStore.Materialize(spec, TargetArchitecture.Find(goArch, out _)!, new InputLedger(), m => log?.Add(m));
    }

    private static string Code(Action action)
    {
        try
        {
            action();
        }
        catch (OciBundleException e)
        {
            return e.Code;
        }

        Assert.Fail("no error");
        return "";
    }

    /// <summary>A tarball made entry by entry, for hostile archives.</summary>
    private static string HostileTar(Fixture f, string name, params TarEntry[] entries)
    {
        string path = Path.Combine(f.Root, name);
        using (FileStream s = File.Create(path))
        using (var w = new TarWriter(s, TarEntryFormat.Pax))
        {
            foreach (TarEntry e in entries)
            {
                w.WriteEntry(e);
            }
        }

        return path;
    }

    private static PaxTarEntry File_(string name, string text, UnixFileMode mode = (UnixFileMode)0b110_100_100)
    {
        var e = new PaxTarEntry(TarEntryType.RegularFile, name) { Mode = mode, DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)) };
        return e;
    }

    private static PaxTarEntry Link(TarEntryType type, string name, string target) => new(type, name) { LinkName = target };

    [TestMethod]
    public void ATarballSysrootGivesTheFolderSysrootsBundleWithItsDigestRecorded()
    {
        using var f = new Fixture();
        f.Publish(t => t.Sysroot = f.Folder);
        string fromFolder = Tree(Path.Combine(f.Bundle, "rootfs"));

        string tar = f.Tarball();
        f.Publish(t => t.Sysroot = tar);
        // The same rootfs, but for the SBOM, which names the tarball's digest (a folder has none).
        static string WithoutSbom(string tree) => string.Join("\n", tree.Split('\n').Where(l => !l.Contains("usr/share/sbom", StringComparison.Ordinal)));
        Assert.AreEqual(WithoutSbom(fromFolder), WithoutSbom(Tree(Path.Combine(f.Bundle, "rootfs"))), "the same rootfs from the folder and from its tarball");
        JObject sysroot = (JObject)f.Provenance["sysroot"]!;
        Assert.AreEqual(OciLayoutMaker.DigestOfFile(tar), (string?)sysroot["digest"]);
        Assert.AreEqual("tarball", (string?)sysroot["form"]);
        string libc = f.RootfsOf("/usr/lib/x86_64-linux-gnu/libc.so.6");
        CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(f.Folder, "usr/lib/x86_64-linux-gnu/libc.so.6")), File.ReadAllBytes(libc));
        string source = (string)f.Provenance["files"]!.First(x => (string?)x["path"] == "/usr/lib/x86_64-linux-gnu/libc.so.6")!["source"]!;
        // Named by the cache's property, not its path: the same bytes from any user's cache.
        Assert.AreEqual($"$(OciBundleSysrootCache)/{OciLayoutMaker.DigestOfFile(tar)["sha256:".Length..]}/rootfs/usr/lib/x86_64-linux-gnu/libc.so.6", source, "the library is read from the cache entry, not the tarball's folder");
    }

    [TestMethod]
    [DataRow("gzip")]
    [DataRow("zstd")]
    public void ACompressedTarballUnpacksToTheSameTree(string compression)
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        string plainRoot = Materialize(f, tar).Root;
        string compressed = tar + (compression == "gzip" ? ".gz" : ".zst");
        using (FileStream input = File.OpenRead(tar))
        using (FileStream output = File.Create(compressed))
        using (Stream z = compression == "gzip" ? new GZipStream(output, CompressionLevel.Fastest) : new ZstdSharp.CompressionStream(output))
        {
            input.CopyTo(z);
        }

        MaterializedSysroot m = Materialize(f, compressed);
        Assert.AreEqual(OciLayoutMaker.DigestOfFile(compressed), m.Digest);
        Assert.AreNotEqual(plainRoot, m.Root);
        Assert.AreEqual(Tree(plainRoot), Tree(m.Root));
    }

    /// <summary>
    /// A tar that ends right after its last entry, with no end-of-archive blocks (umoci 0.4.7's layers), is whole, as
    /// GNU tar, skopeo and podman read it: as a gzip tarball and as an image's gzip layer (whose diff_id is over its own
    /// bytes); one cut inside an entry is still OCIB1313.
    /// </summary>
    [TestMethod]
    public void ATarWithoutEndBlocksUnpacksAndOneCutShortIsRefused()
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        string whole = Tree(Materialize(f, tar).Root);
        byte[] bytes = File.ReadAllBytes(tar);
        int end = bytes.Length;
        while (end >= 512 && bytes.AsSpan(end - 512, 512).IndexOfAnyExcept((byte)0) < 0)
        {
            end -= 512;
        }

        Assert.IsTrue(end < bytes.Length - 1000, "the fixture's tar had its end blocks");
        string Gzip(string name, int length)
        {
            string path = Path.Combine(f.Root, name);
            using (FileStream output = File.Create(path))
            using (var z = new GZipStream(output, CompressionLevel.Fastest))
            {
                z.Write(bytes, 0, length);
            }

            return path;
        }

        Assert.AreEqual(whole, Tree(Materialize(f, Gzip("noend.tar.gz", end)).Root), "a gzip tarball without end blocks");
        string layout = Path.Combine(f.Root, "noend-layout");
        string plain = Path.Combine(f.Root, "noend.tar");
        File.WriteAllBytes(plain, bytes[..end]);
        Assert.AreEqual(whole, Tree(Materialize(f, plain).Root), "a plain tarball without end blocks");
        OciLayoutMaker.Write(layout, new[] { plain }, tag: "1"); // gzip-compressed, its diff_id over these bytes
        Assert.AreEqual(whole, Tree(Materialize(f, layout + ":1").Root), "an image whose layer has no end blocks");

        string cut = Gzip("cut.tar.gz", end - 700);
        string message = "";
        Assert.AreEqual("OCIB1313", Code(() =>
        {
            try
            {
                Materialize(f, cut);
            }
            catch (OciBundleException e)
            {
                message = e.Message;
                throw;
            }
        }));
        Assert.IsFalse(message.Contains("..", StringComparison.Ordinal), message);
    }

    [TestMethod]
    public void AnOciLayoutAndAnOciArchiveGiveTheTarballsTreeAndTheManifestDigest()
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        string fromTarball = Tree(Materialize(f, tar).Root);
        string layout = Path.Combine(f.Root, "layout");
        string manifest = OciLayoutMaker.Write(layout, new[] { tar }, tag: "12-slim");

        MaterializedSysroot m = Materialize(f, layout + ":12-slim");
        Assert.AreEqual(manifest, m.Digest);
        Assert.AreEqual(fromTarball, Tree(m.Root));
        Assert.AreEqual(manifest, Materialize(f, layout).Digest, "one image needs no tag");
        Assert.AreEqual("OCIB1304", Code(() => Materialize(f, layout + ":13")));

        string archive = Path.Combine(f.Root, "image.oci.tar");
        OciLayoutMaker.Archive(layout, archive);
        MaterializedSysroot a = Materialize(f, archive, digest: manifest);
        Assert.AreEqual(manifest, a.Digest, "an archive's digest is its image's");
        Assert.AreEqual("oci-archive", a.Form);
        Assert.AreEqual(fromTarball, Tree(a.Root));
    }

    [TestMethod]
    public void AnOciArchiveWithManyBlobsBeforeItsOciLayoutIsStillAnArchive()
    {
        using var f = new Fixture();
        // 70 layers: skopeo writes blobs/ first and oci-layout last, so oci-layout is the 76th entry.
        string[] layers = Enumerable.Range(0, 70).Select(n => HostileTar(f, $"layer-{n}.tar", File_($"etc/f{n}", n.ToString()))).ToArray();
        string layout = Path.Combine(f.Root, "many");
        string manifest = OciLayoutMaker.Write(layout, layers);
        string archive = Path.Combine(f.Root, "many.oci.tar");
        using (FileStream s = File.Create(archive))
        using (var w = new TarWriter(s, TarEntryFormat.Pax))
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "blobs/"));
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "blobs/sha256/"));
            foreach (string blob in Directory.GetFiles(Path.Combine(layout, "blobs", "sha256")).Order(StringComparer.Ordinal))
            {
                w.WriteEntry(blob, "blobs/sha256/" + Path.GetFileName(blob));
            }

            w.WriteEntry(Path.Combine(layout, "index.json"), "index.json");
            w.WriteEntry(Path.Combine(layout, "oci-layout"), "oci-layout");
        }

        MaterializedSysroot m = Materialize(f, archive, digest: manifest);
        Assert.AreEqual("oci-archive", m.Form);
        Assert.AreEqual(manifest, m.Digest);
        Assert.AreEqual("69", File.ReadAllText(Path.Combine(m.Root, "etc/f69")));
        Assert.IsFalse(Directory.Exists(Path.Combine(m.Root, "blobs")), "the layout is not taken for a root file system");
    }

    [TestMethod]
    public void AnImageOfAnotherArchitectureIsOneCodedError()
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        string layout = Path.Combine(f.Root, "layout");
        OciLayoutMaker.Write(layout, new[] { tar }, architecture: "amd64");
        Assert.AreEqual("OCIB1305", Code(() => Materialize(f, layout, goArch: "arm64")), "an index whose platforms lack arm64");

        string bare = Path.Combine(f.Root, "bare");
        OciLayoutMaker.Write(bare, new[] { tar }, architecture: "amd64", platformInIndex: false);
        Assert.AreEqual("OCIB2006", Code(() => Materialize(f, bare, goArch: "arm64")), "the config names another architecture");
    }

    [TestMethod]
    public void ASysrootOfAnotherMachineSaysWhichMachineItHolds()
    {
        using var f = new Fixture();
        // The app's native library made an arm64 one (e_machine 183): its DT_NEEDED list stays as it was.
        string shim = Path.Combine(f.PublishDir, "libSystem.Native.so");
        byte[] elf = File.ReadAllBytes(shim);
        elf[18] = 183;
        elf[19] = 0;
        File.WriteAllBytes(shim, elf);
        CollectionAssert.AreEqual(new[] { "OCIB2006" }, f.Fail(t =>
        {
            t.Sysroot = f.Tarball();
            t.Arch = "arm64";
        }));
        string message = f.Engine.Errors.Single().Message!;
        StringAssert.Contains(message, "holds no libraries for arm64");
        StringAssert.Contains(message, "it holds amd64 libraries");
        StringAssert.Contains(message, "mmdebstrap");
    }

    [TestMethod]
    public void AnExtractedSysrootsEmptyPackageDatabaseStillGivesTimeZones()
    {
        using var f = new Fixture();
        // What mmdebstrap --variant=extract writes: the packages' files, an empty dpkg status and info folder.
        Directory.CreateDirectory(Path.Combine(f.Folder, "var", "lib", "dpkg", "info"));
        File.WriteAllText(Path.Combine(f.Folder, "var", "lib", "dpkg", "status"), "");
        Directory.CreateDirectory(Path.Combine(f.Folder, "usr", "share", "zoneinfo", "Europe"));
        File.WriteAllText(Path.Combine(f.Folder, "usr", "share", "zoneinfo", "Europe", "Berlin"), "TZif2 from tzdata");
        string tar = f.Tarball();
        f.Publish(t => { t.Sysroot = tar; t.IncludeTimeZoneData = true; });
        Assert.AreEqual("TZif2 from tzdata", File.ReadAllText(f.RootfsOf("/usr/share/zoneinfo/Europe/Berlin")));
        StringAssert.Contains(f.Log, "no dpkg database");
    }

    [TestMethod]
    public void LayersApplyInOrderWithWhiteoutsAndOpaqueFolders()
    {
        using var f = new Fixture();
        string one = HostileTar(f, "one.tar", File_("etc/a", "a"), File_("etc/b", "b"), File_("opt/x/old", "old"), File_("keep", "1"));
        string two = HostileTar(f, "two.tar", File_("etc/.wh.a", ""), File_("opt/x/new", "new"), File_("opt/x/.wh..wh..opq", ""), File_("keep", "2"));
        string layout = Path.Combine(f.Root, "layers");
        OciLayoutMaker.Write(layout, new[] { one, two });
        string root = Materialize(f, layout).Root;
        Assert.IsFalse(File.Exists(Path.Combine(root, "etc/a")), "whited out");
        Assert.IsTrue(File.Exists(Path.Combine(root, "etc/b")));
        Assert.IsFalse(File.Exists(Path.Combine(root, "opt/x/old")), "hidden by the opaque folder");
        Assert.AreEqual("new", File.ReadAllText(Path.Combine(root, "opt/x/new")), "written by the same layer as the opaque marker");
        Assert.AreEqual("2", File.ReadAllText(Path.Combine(root, "keep")));
        Assert.IsFalse(Directory.EnumerateFileSystemEntries(root, ".wh.*", SearchOption.AllDirectories).Any());
    }

    [TestMethod]
    public void AnOpaqueFolderHidesEarlierLayersAtEveryDepthAndKeepsAllTheLayerWrote()
    {
        // The image spec: an opaque folder's children from lower layers are all hidden, also below a folder the layer
        // names again; what the layer writes below it stays, also under a folder it never names by an entry.
        using var f = new Fixture();
        string one = HostileTar(f, "one.tar", File_("x/sub/old", "old"), File_("x/keep", "lower"), File_("x/other/lower", "lower"), File_("y/z", "untouched"));
        var sub = new PaxTarEntry(TarEntryType.Directory, "x/sub") { Mode = (UnixFileMode)0b111_101_101 };
        string two = HostileTar(f, "two.tar", File_("x/.wh..wh..opq", ""), sub, File_("x/sub/new", "new"), File_("x/other/new", "new"));
        string layout = Path.Combine(f.Root, "opaque");
        OciLayoutMaker.Write(layout, new[] { one, two });
        string root = Materialize(f, layout).Root;

        string[] files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(root, p)).Order(StringComparer.Ordinal).ToArray();
        CollectionAssert.AreEqual(new[] { "x/other/new", "x/sub/new", "y/z" }, files, string.Join(" ", files));
    }

    [TestMethod]
    public void PinningTakesTheRightDigestAndNamesBothForAWrongOne()
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        string digest = OciLayoutMaker.DigestOfFile(tar);
        f.Publish(t => { t.Sysroot = tar; t.SysrootDigest = digest; });

        string wrong = "sha256:" + new string('0', 64);
        CollectionAssert.AreEqual(new[] { "OCIB1303" }, f.Fail(t => { t.Sysroot = tar; t.SysrootDigest = wrong; }));
        StringAssert.Contains(f.Engine.Errors.Single().Message!, wrong);
        StringAssert.Contains(f.Engine.Errors.Single().Message!, digest);
        CollectionAssert.AreEqual(new[] { "OCIB1300" }, f.Fail(t => { t.Sysroot = tar; t.SysrootDigest = "sha256:abc"; }));
        CollectionAssert.AreEqual(new[] { "OCIB1301" }, f.Fail(t => { t.Sysroot = f.Folder; t.SysrootDigest = digest; }));
        CollectionAssert.AreEqual(new[] { "OCIB1302" }, f.Fail(t => { t.Sysroot = tar; t.SysrootCache = "relative/cache"; }));
        CollectionAssert.AreEqual(new[] { "OCIB1100" }, f.Fail(t => t.Sysroot = tar + ".missing"));
    }

    [TestMethod]
    public void AnUnchangedTarballIsNotReadAgainAndAChangedOneRebuilds()
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        f.Publish(t => t.Sysroot = tar);
        f.Publish(t => t.Sysroot = tar);
        StringAssert.Contains(f.Log, "Nothing changed");
        Assert.IsFalse(f.Log.Contains("Sysroot ", StringComparison.Ordinal), "the no-op publish neither hashed nor opened the sysroot: " + f.Log);

        // A new tarball at the same path (a new libm): a new digest, a new cache entry, the bundle rebuilt from it.
        File.Copy("/lib/x86_64-linux-gnu/libc.so.6", Path.Combine(f.Folder, "usr/lib/x86_64-linux-gnu/libm.so.6"), overwrite: true);
        File.Delete(tar);
        f.Tarball();
        f.Publish(t => t.Sysroot = tar);
        StringAssert.Contains(f.Log, "an input changed");
        Assert.AreEqual(OciLayoutMaker.DigestOfFile(tar), (string?)f.Provenance["sysroot"]!["digest"]);
        Assert.AreEqual(2, Directory.GetDirectories(f.Cache).Count(d => !Path.GetFileName(d).StartsWith('.')));
    }

    [TestMethod]
    public void AnArchiveHashedOnceIsKnownByItsIdentityUntilItIsWrittenAgain()
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        var log = new List<string>();
        string digest = Materialize(f, tar, log: log).Digest!;
        Assert.IsTrue(log.Any(l => l.Contains("hashed in", StringComparison.Ordinal)), string.Join("\n", log));
        log.Clear();
        Assert.AreEqual(digest, Materialize(f, tar, log: log).Digest);
        Assert.IsTrue(log.Any(l => l.Contains("known by its identity", StringComparison.Ordinal)), string.Join("\n", log));

        // Rewritten in place with other bytes and its old mtime, as a careless tool would: hashed again, a new digest.
        DateTime mtime = File.GetLastWriteTimeUtc(tar);
        using (FileStream s = new(tar, FileMode.Open, FileAccess.Write))
        {
            s.Seek(-1, SeekOrigin.End);
            s.WriteByte(1); // inside the end-of-archive zeros: still a valid tar
        }

        File.SetLastWriteTimeUtc(tar, mtime);
        log.Clear();
        string again = Materialize(f, tar, log: log).Digest!;
        Assert.AreNotEqual(digest, again);
        Assert.AreEqual(OciLayoutMaker.DigestOfFile(tar), again);
        Assert.IsTrue(log.Any(l => l.Contains("hashed in", StringComparison.Ordinal)), string.Join("\n", log));
    }

    [TestMethod]
    public void TheImageDependsOnTheSysrootNotOnWhereItIsCachedAndNamesItsDigest()
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        string image = Path.Combine(f.Root, "proj", "bin", "oci-image");
        string ManifestOf(string cache)
        {
            f.Publish(t => { t.Sysroot = tar; t.SysrootCache = cache; t.ImageDirectory = image; t.ImageTag = "latest"; t.ImageRepository = "proj"; });
            return (string)JObject.Parse(File.ReadAllText(Path.Combine(image, "index.json")))["manifests"]![0]!["digest"]!;
        }

        string first = ManifestOf(f.Cache);
        string second = ManifestOf(Path.Combine(f.Root, "another-home", ".ocibundle", "sysroots"));
        Assert.AreEqual(first, second, "another machine's cache folder gives the same image");
        JObject manifest = JObject.Parse(File.ReadAllText(Path.Combine(image, "blobs", "sha256", second[7..])));
        Assert.AreEqual(OciLayoutMaker.DigestOfFile(tar), (string?)manifest["annotations"]!["io.ocibundle.sysroot.digest"]);
        JObject config = JObject.Parse(File.ReadAllText(Path.Combine(image, "blobs", "sha256", ((string)manifest["config"]!["digest"]!)[7..])));
        Assert.AreEqual(OciLayoutMaker.DigestOfFile(tar), (string?)config["config"]!["Labels"]!["io.ocibundle.sysroot.digest"]);
    }

    [TestMethod]
    public void ADamagedCacheEntryIsUnpackedAgain()
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        string root = Materialize(f, tar).Root;
        string libc = Path.Combine(root, "usr/lib/x86_64-linux-gnu/libc.so.6");
        File.WriteAllText(libc, "tampered");
        var log = new List<string>();
        Assert.AreEqual(root, Materialize(f, tar, log: log).Root);
        CollectionAssert.AreEqual(File.ReadAllBytes("/lib/x86_64-linux-gnu/libc.so.6"), File.ReadAllBytes(libc));
        Assert.IsTrue(log.Any(l => l.Contains("unpacking it again", StringComparison.Ordinal)), string.Join("\n", log));
    }

    [TestMethod]
    public void AnEntryUnderAnotherDigestsNameIsNotTakenForIt()
    {
        using var f = new Fixture();
        string other = HostileTar(f, "other.tar", File_("etc/which", "other"));
        string pinned = HostileTar(f, "pinned.tar", File_("etc/which", "pinned"));
        string otherRoot = Materialize(f, other).Root;
        string digest = OciLayoutMaker.DigestOfFile(pinned);
        // Another sysroot's entry, well formed and as unpacked, moved (or copied by a careless hand) to the pinned one's name.
        Directory.Move(Path.GetDirectoryName(otherRoot)!, Path.Combine(f.Cache, digest[7..]));
        var log = new List<string>();
        MaterializedSysroot m = Materialize(f, pinned, digest: digest, log: log);
        Assert.AreEqual(digest, m.Digest);
        Assert.AreEqual("tarball", m.Form);
        Assert.AreEqual("pinned", File.ReadAllText(Path.Combine(m.Root, "etc/which")), string.Join("\n", log));
    }

    [TestMethod]
    public void NamesWithTabsOrNewlinesDoNotMakeTheEntryUnpackedAgainEachTime()
    {
        using var f = new Fixture();
        // GNU headers hold such short names as they are (.NET reads no newline back from a pax record).
        string tar = Path.Combine(f.Root, "odd-names.tar");
        using (FileStream s = File.Create(tar))
        using (var w = new TarWriter(s, TarEntryFormat.Gnu))
        {
            foreach ((string name, string text) in new[] { ("etc/a\tb", "tab"), ("etc/c\nd", "newline"), ("etc/e\\tf", "backslash"), ("etc/g\rh", "return") })
            {
                w.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, name) { Mode = (UnixFileMode)0b110_100_100, DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)) });
            }
        }

        string root = Materialize(f, tar).Root;
        var log = new List<string>();
        Assert.AreEqual(root, Materialize(f, tar, log: log).Root);
        Assert.IsFalse(log.Any(l => l.Contains("unpacking it again", StringComparison.Ordinal) || l.Contains("does not match", StringComparison.Ordinal)), string.Join("\n", log));
        Assert.AreEqual("tab", File.ReadAllText(Path.Combine(root, "etc/a\tb")));
        Assert.AreEqual("backslash", File.ReadAllText(Path.Combine(root, "etc/e\\tf")));

        // And such an entry is still checked: a change to one of those files makes it unpacked again.
        File.WriteAllText(Path.Combine(root, "etc/c\nd"), "changed");
        log.Clear();
        Materialize(f, tar, log: log);
        Assert.IsTrue(log.Any(l => l.Contains("unpacking it again", StringComparison.Ordinal)), string.Join("\n", log));
        Assert.AreEqual("newline", File.ReadAllText(Path.Combine(root, "etc/c\nd")));
    }

    [TestMethod]
    public void ACacheOtherUsersCanWriteIsRefusedForTheyCouldPlantASysrootThere()
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        // World-writable, even with the sticky bit (/tmp-like): another user could make the entry of a digest first.
        File.SetUnixFileMode(f.Cache, (UnixFileMode)0b1_111_111_111);
        CollectionAssert.AreEqual(new[] { "OCIB1317" }, f.Fail(t => t.Sysroot = tar));
        StringAssert.Contains(f.Engine.Errors.Single().Message!, "OciBundleSysrootCache");
        Assert.AreEqual(0, Directory.GetDirectories(f.Cache).Length, "nothing unpacked there");
        File.SetUnixFileMode(f.Cache, (UnixFileMode)0b111_101_101);
        string root = Materialize(f, tar).Root;
        Assert.AreEqual((UnixFileMode)0b111_000_000, File.GetUnixFileMode(Path.GetDirectoryName(root)!), "a new entry is the builder's alone: its files' own modes, 0666 or not, reach no other user");

        // An entry made world-writable after the fact (a planted one would be so, or another user's).
        File.SetUnixFileMode(Path.GetDirectoryName(root)!, (UnixFileMode)0b111_111_111);
        Assert.AreEqual("OCIB1317", Code(() => Materialize(f, tar)));
        File.SetUnixFileMode(Path.GetDirectoryName(root)!, (UnixFileMode)0b111_101_101);
        Assert.AreEqual(root, Materialize(f, tar).Root);

        if (Interop.NativeMethods.getuid() == 0)
        {
            // Owned by another user (root may build in a folder of its own or root's, not in one a user could fill).
            Assert.AreEqual(0, Interop.NativeMethods.lchown(f.Cache, 12345, 12345));
            Assert.AreEqual("OCIB1317", Code(() => Materialize(f, tar)));
        }
    }

    [TestMethod]
    public void TwoPublishesUnpackingTheSameSysrootAtOnceShareOneEntry()
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        MaterializedSysroot[] results = new MaterializedSysroot[4];
        Parallel.For(0, results.Length, i => results[i] = Materialize(f, tar));
        Assert.AreEqual(1, results.Select(r => r.Root).Distinct().Count());
        CollectionAssert.AreEqual(new[] { Path.GetFileName(Path.GetDirectoryName(results[0].Root)!) }, Directory.GetDirectories(f.Cache).Select(Path.GetFileName).Where(n => n != ".identities").ToArray(), "no staging folder left");
        Assert.IsTrue(File.Exists(Path.Combine(results[0].Root, "usr/lib/x86_64-linux-gnu/libc.so.6")));
    }

    [TestMethod]
    public void HostileTarballsAreRefusedAndWriteNothingOutsideTheCache()
    {
        using var f = new Fixture();
        string before = f.OutsideCache();
        string secret = Path.Combine(f.Outside, "secret");
        var cases = new (string Code, TarEntry[] Entries)[]
        {
            ("OCIB1310", new TarEntry[] { File_("usr/../../outside/pwned", "x") }),
            ("OCIB1310", new TarEntry[] { File_("../pwned", "x") }),
            ("OCIB1312", new TarEntry[] { Link(TarEntryType.SymbolicLink, "escape", f.Outside), File_("escape/pwned", "x") }),
            ("OCIB1312", new TarEntry[] { Link(TarEntryType.SymbolicLink, "up", "../../../../../../.."), File_("up/tmp/pwned", "x") }),
            ("OCIB1312", new TarEntry[] { new PaxTarEntry(TarEntryType.Directory, "d"), Link(TarEntryType.SymbolicLink, "d/l", "/"), new PaxTarEntry(TarEntryType.Directory, "d/l/tmp") }),
            ("OCIB1310", new TarEntry[] { Link(TarEntryType.HardLink, "hl", "../outside/secret") }),
            ("OCIB1311", new TarEntry[] { Link(TarEntryType.HardLink, "hl", "/etc/passwd") }),
            ("OCIB1311", new TarEntry[] { Link(TarEntryType.SymbolicLink, "s", "/etc/passwd"), Link(TarEntryType.HardLink, "hl", "s") }),
            ("OCIB1311", new TarEntry[] { Link(TarEntryType.SymbolicLink, "d", f.Outside), Link(TarEntryType.HardLink, "hl", "d/secret") }),
            ("OCIB1315", new TarEntry[] { File_(new string('a', 300), "x") }),
        };
        File.WriteAllText(secret, "secret");
        before = f.OutsideCache();
        int i = 0;
        foreach ((string code, TarEntry[] entries) in cases)
        {
            string tar = HostileTar(f, $"hostile-{i++}.tar", entries);
            before += "\n" + tar;
            before = string.Join("\n", before.Split('\n').Order(StringComparer.Ordinal));
            Assert.AreEqual(code, Code(() => Materialize(f, tar)), string.Join(", ", entries.Select(e => e.Name)));
            Assert.AreEqual(before, f.OutsideCache(), "nothing written outside the cache");
            Assert.AreEqual("secret", File.ReadAllText(secret));
            Assert.AreEqual(0, Directory.GetDirectories(f.Cache).Length, "a refused archive leaves no entry and no staging folder");
        }

        Assert.IsFalse(Directory.EnumerateFileSystemEntries("/tmp", "pwned").Any());
    }

    [TestMethod]
    public void AFolderRemovedAndMadeALinkIsNeverTrustedAgainSoNothingIsWrittenChangedOrDeletedThroughIt()
    {
        using var f = new Fixture();
        string secret = Path.Combine(f.Outside, "secret");
        File.WriteAllText(secret, "secret");
        Directory.CreateDirectory(Path.Combine(f.Outside, "v"));
        File.SetUnixFileMode(Path.Combine(f.Outside, "v"), (UnixFileMode)0b111_101_101);
        File.WriteAllText(Path.Combine(f.Outside, "v", "precious"), "precious");
        string before = f.OutsideCache();
        var dir = (string name, UnixFileMode mode) => new PaxTarEntry(TarEntryType.Directory, name) { Mode = mode };
        const UnixFileMode Open = (UnixFileMode)0b111_101_101;
        int i = 0;
        string Layout(params string[] layers)
        {
            string path = Path.Combine(f.Root, $"layout-{i++}");
            OciLayoutMaker.Write(path, layers);
            return path;
        }

        string Check(string sysroot)
        {
            string code = "";
            try
            {
                Materialize(f, sysroot);
            }
            catch (OciBundleException e)
            {
                code = e.Code;
            }

            string now = string.Join("\n", f.OutsideCache().Split('\n').Where(p => !p.StartsWith(Path.Combine(f.Root, "layout-"), StringComparison.Ordinal) && !p.Contains("/hostile-", StringComparison.Ordinal)));
            Assert.AreEqual(before, now, $"{sysroot}: nothing written or deleted outside the cache");
            Assert.AreEqual("secret", File.ReadAllText(secret));
            Assert.AreEqual("precious", File.ReadAllText(Path.Combine(f.Outside, "v", "precious")), $"{sysroot}: nothing deleted outside the cache");
            Assert.AreEqual(Open, File.GetUnixFileMode(Path.Combine(f.Outside, "v")), $"{sysroot}: no folder outside the cache changed its mode");
            return code;
        }

        // A whiteout removes a folder the unpacker had checked; a link then takes its name: writing below it is refused.
        Assert.AreEqual("OCIB1312", Check(Layout(HostileTar(f, "hostile-a.tar", dir("d", Open), File_(".wh.d", ""), Link(TarEntryType.SymbolicLink, "d", f.Outside), File_("d/pwned", "x")))));
        Assert.AreEqual("OCIB1312", Check(Layout(
            HostileTar(f, "hostile-b1.tar", dir("d", Open), File_("d/x", "x")),
            HostileTar(f, "hostile-b2.tar", File_(".wh.d", ""), Link(TarEntryType.SymbolicLink, "d", f.Outside), File_("d/.wh.secret", "")))), "a whiteout through the link");
        // An opaque folder whose parent the same layer made a link: nothing of the link's target is hidden (removed).
        Check(Layout(HostileTar(f, "hostile-c.tar", dir("a", Open), dir("a/v", Open), File_("a/v/.wh..wh..opq", ""), Link(TarEntryType.SymbolicLink, "a", f.Outside))));
        // A folder's mode is set at the end: never through a parent that became a link since (a plain tarball can do this).
        Check(HostileTar(f, "hostile-d.tar", dir("a", Open), dir("a/v", (UnixFileMode)0b111_111_111), Link(TarEntryType.SymbolicLink, "a", f.Outside)));
        Assert.IsFalse(Directory.EnumerateFileSystemEntries("/tmp", "pwned").Any());
    }

    [TestMethod]
    public void AWhiteoutMustNameAFileOfItsFolder()
    {
        using var f = new Fixture();
        string Layout(string name, params TarEntry[] entries)
        {
            string path = Path.Combine(f.Root, name);
            OciLayoutMaker.Write(path, new[] { HostileTar(f, name + ".tar", entries) });
            return path;
        }

        var usr = new PaxTarEntry(TarEntryType.Directory, "usr") { Mode = (UnixFileMode)0b111_101_101 };
        Assert.AreEqual("OCIB1315", Code(() => Materialize(f, Layout("root", usr, File_("usr/f", "x"), File_(".wh.", "")))), "'.wh.' names nothing");
        Assert.AreEqual("OCIB1315", Code(() => Materialize(f, Layout("dot", usr, File_("usr/f", "x"), File_("usr/.wh..", "")))), "'.wh..' names its own folder");
        Assert.AreEqual("OCIB1310", Code(() => Materialize(f, Layout("dotdot", usr, File_("usr/f", "x"), File_(".wh...", "")))), "'.wh...' names the folder above");
        Assert.AreEqual(0, Directory.GetDirectories(f.Cache).Length, "no entry, no staging folder");
    }

    [TestMethod]
    public void ABlobThatIsALinkOrADeviceIsACodedErrorNotAHang()
    {
        using var f = new Fixture();
        string tar = HostileTar(f, "layer.tar", File_("etc/hello", "hi"));
        string Within(Action action)
        {
            var run = System.Threading.Tasks.Task.Run(() => Code(action));
            Assert.IsTrue(run.Wait(TimeSpan.FromSeconds(30)), "answered within 30 s, not reading /dev/zero forever");
            return run.Result;
        }

        string LayoutWith(string name, Func<string, string> blobToReplace, string target)
        {
            string layout = Path.Combine(f.Root, name);
            string manifest = OciLayoutMaker.Write(layout, new[] { tar });
            string blob = blobToReplace(manifest);
            File.Delete(blob);
            File.CreateSymbolicLink(blob, target);
            return layout;
        }

        string Manifest(string layout, string digest) => Path.Combine(layout, "blobs", "sha256", digest[7..]);
        string Layer(string layout, string digest) => Path.Combine(layout, "blobs", "sha256", ((string)JObject.Parse(File.ReadAllText(Manifest(layout, digest)))["layers"]![0]!["digest"]!)[7..]);

        // In a layout folder of the user's own: a blob must be a regular file (a link to one is followed).
        string zeroLayer = Path.Combine(f.Root, "zero-layer");
        LayoutWith("zero-layer", d => Layer(zeroLayer, d), "/dev/zero");
        Assert.AreEqual("OCIB1313", Within(() => Materialize(f, zeroLayer)), "a layer blob that is /dev/zero");
        string zeroManifest = Path.Combine(f.Root, "zero-manifest");
        LayoutWith("zero-manifest", d => Manifest(zeroManifest, d), "/dev/zero");
        Assert.AreEqual("OCIB1313", Within(() => Materialize(f, zeroManifest)), "a manifest that is /dev/zero");

        // In an OCI archive, a blob is never a link: a link the archive made is not followed out of it.
        string archived = Path.Combine(f.Root, "archived");
        LayoutWith("archived", d => Layer(archived, d), "/dev/zero");
        string archive = Path.Combine(f.Root, "linked.oci.tar");
        OciLayoutMaker.Archive(archived, archive);
        Assert.AreEqual("OCIB1315", Within(() => Materialize(f, archive)), "an archive whose layer blob is a link to /dev/zero");
        Assert.AreEqual(0, Directory.GetDirectories(f.Cache).Length, "no entry, no staging folder");
    }

    [TestMethod]
    public void DeviceNodesAreSkippedSetuidBitsDroppedAndAbsoluteNamesKeptInside()
    {
        using var f = new Fixture();
        string tar = HostileTar(f, "odd.tar",
            new PaxTarEntry(TarEntryType.Directory, "./dev") { Mode = (UnixFileMode)0b111_101_101 },
            new PaxTarEntry(TarEntryType.CharacterDevice, "./dev/null") { DeviceMajor = 1, DeviceMinor = 3 },
            new PaxTarEntry(TarEntryType.BlockDevice, "./dev/sda") { DeviceMajor = 8, DeviceMinor = 0 },
            new PaxTarEntry(TarEntryType.Fifo, "./dev/initctl"),
            File_("./usr/bin/su", "#!/bin/sh\n", (UnixFileMode)0b110_111_101_101),
            File_("/etc/absolute", "inside"),
            Link(TarEntryType.SymbolicLink, "./etc/mtab", "/proc/self/mounts"),
            File_("./usr/lib/libx.so.1", "x"),
            Link(TarEntryType.HardLink, "./usr/lib/libx-again.so.1", "./usr/lib/libx.so.1"),
            new PaxTarEntry(TarEntryType.Directory, "./ro") { Mode = (UnixFileMode)0b101_101_101 },
            File_("./ro/inside", "ok"));
        var log = new List<string>();
        string root = Materialize(f, tar, log: log).Root;
        Assert.AreEqual(0, Directory.GetFileSystemEntries(Path.Combine(root, "dev")).Length, "device nodes and FIFOs skipped");
        StringAssert.Contains(string.Join("\n", log), "3 device nodes and FIFOs skipped");
        Assert.AreEqual((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Combine(root, "usr/bin/su")), "no setuid or setgid");
        Assert.AreEqual("inside", File.ReadAllText(Path.Combine(root, "etc/absolute")));
        Assert.AreEqual("/proc/self/mounts", new FileInfo(Path.Combine(root, "etc/mtab")).LinkTarget, "a symlink is kept as written (the closure follows it inside the sysroot)");
        Assert.AreEqual(Interop.NativeMethods.LStat(Path.Combine(root, "usr/lib/libx.so.1"))!.Value.Inode, Interop.NativeMethods.LStat(Path.Combine(root, "usr/lib/libx-again.so.1"))!.Value.Inode);
        Assert.AreEqual("ok", File.ReadAllText(Path.Combine(root, "ro/inside")));
    }

    [TestMethod]
    public void DamagedArchivesAreCodedErrors()
    {
        using var f = new Fixture();
        string tar = f.Tarball();
        string truncated = Path.Combine(f.Root, "truncated.tar.gz");
        using (FileStream input = File.OpenRead(tar))
        using (FileStream output = File.Create(truncated))
        using (var z = new GZipStream(output, CompressionLevel.Fastest))
        {
            input.CopyTo(z);
        }

        byte[] bytes = File.ReadAllBytes(truncated);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        Assert.AreEqual("OCIB1313", Code(() => Materialize(f, truncated)));

        string layout = Path.Combine(f.Root, "layout");
        OciLayoutMaker.Write(layout, new[] { tar });
        string layer = Directory.GetFiles(Path.Combine(layout, "blobs", "sha256")).OrderByDescending(p => new FileInfo(p).Length).First();
        byte[] blob = File.ReadAllBytes(layer);
        blob[^20] ^= 0xff; // in the gzip trailer's neighbourhood: the blob no longer has its name's digest
        File.WriteAllBytes(layer, blob);
        Assert.AreEqual("OCIB1314", Code(() => Materialize(f, layout)), "the blob's digest is checked before what the decompressor made of it is believed");
        Assert.AreEqual(0, Directory.GetDirectories(f.Cache).Length);
    }
}
