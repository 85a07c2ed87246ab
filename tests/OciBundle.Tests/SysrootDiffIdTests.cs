using System.Formats.Tar;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Closure;
using OciBundle.Diagnostics;
using OciBundle.Model;
using OciBundle.Request;
using OciBundle.State;
using OciBundle.Sysroots;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// Issue 24 item 5: an OCI sysroot's layers are checked against the config's <c>diff_ids</c> (the digest of each
/// uncompressed tar) as they are unpacked, and against their blob digests; a layout or archive that fails either is a
/// coded error naming the layer, and the cache keeps nothing of it.
/// </summary>
[TestClass]
public sealed class SysrootDiffIdTests
{
    private const string Zeros = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    private sealed class Fixture : IDisposable
    {
        private readonly TempDirectory _dir = new("ocibundle-diffid-");

        public Fixture() => Directory.CreateDirectory(Cache);

        public string Root => _dir.Path;

        public string Cache => _dir.Combine("cache");

        /// <summary>A layer tarball holding one file per (name, text) pair.</summary>
        public string Layer(string name, params (string Path, string Text)[] files)
        {
            string path = _dir.Combine(name);
            using (FileStream s = File.Create(path))
            using (var w = new TarWriter(s, TarEntryFormat.Pax))
            {
                foreach ((string file, string text) in files)
                {
                    // Dated, so the same files give the same bytes on every run (a damaged blob is damaged the same way each time).
                    w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, file) { Mode = (UnixFileMode)0b110_100_100, ModificationTime = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero), DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)) });
                }
            }

            return path;
        }

        public MaterializedSysroot Materialize(string sysroot, List<string>? log = null)
        {
            var errors = new ParseErrors();
            SysrootSpec spec = SysrootSpec.Parse(sysroot, null, Cache, Root, errors);
            Assert.AreEqual(0, errors.All.Count);
            return SysrootStore.Materialize(spec, TargetArchitecture.Find("amd64", out _)!, new InputLedger(), m => log?.Add(m));
        }

        public OciBundleException Fails(string sysroot)
        {
            try
            {
                Materialize(sysroot);
            }
            catch (OciBundleException e)
            {
                return e;
            }

            throw new AssertFailedException($"{sysroot} was unpacked");
        }

        /// <summary>What the cache holds: entries, staging folders, moved-aside entries (lock files and the identity records aside).</summary>
        public string[] CacheEntries() => Directory.GetDirectories(Cache).Select(Path.GetFileName).Where(n => n != ".identities").ToArray()!;

        public void Dispose() => _dir.Dispose();
    }

    private static string[] Two(Fixture f) => new[]
    {
        f.Layer("base.tar", ("etc/os-release", "ID=debian\n"), ("usr/lib/libbase.so.1", "base")),
        f.Layer("top.tar", ("usr/lib/libtop.so.1", "top")),
    };

    [TestMethod]
    public void ALayerWhoseDiffIdIsWrongIsOCIB1322NamingItAndLeavesNothingInTheCache()
    {
        using var f = new Fixture();
        string[] layers = Two(f);
        string layout = Path.Combine(f.Root, "swapped");
        OciLayoutMaker.Write(layout, layers, diffIds: ids => new[] { ids[0], ids[0] }); // the second layer named by the first's diff_id
        OciBundleException e = f.Fails(layout);
        Assert.AreEqual("OCIB1322", e.Code, e.Message);
        string manifest = File.ReadAllText(Path.Combine(layout, "blobs", "sha256", ((string)JObject.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))["manifests"]![0]!["digest"]!)[7..]));
        string secondBlob = (string)JObject.Parse(manifest)["layers"]![1]!["digest"]!;
        StringAssert.Contains(e.Message, "layer 2 of 2");
        StringAssert.Contains(e.Message, secondBlob);
        StringAssert.Contains(e.Message, OciLayoutMaker.DigestOfFile(layers[1]), "what it unpacks to");
        StringAssert.Contains(e.Message, OciLayoutMaker.DigestOfFile(layers[0]), "what the config says");
        CollectionAssert.AreEqual(Array.Empty<string>(), f.CacheEntries(), "no entry, no staging folder: not even the first layer, which matched");

        // The same layers under a config that tells the truth: unpacked, both layers in.
        string good = Path.Combine(f.Root, "good");
        OciLayoutMaker.Write(good, layers);
        MaterializedSysroot m = f.Materialize(good);
        Assert.AreEqual("top", File.ReadAllText(Path.Combine(m.Root, "usr/lib/libtop.so.1")));
        Assert.AreEqual(1, f.CacheEntries().Length);
    }

    [TestMethod]
    public void DiffIdsOfAllZerosAreOCIB1322ForTheFirstLayer()
    {
        using var f = new Fixture();
        string layout = Path.Combine(f.Root, "zeros");
        OciLayoutMaker.Write(layout, Two(f), diffIds: ids => ids.Select(_ => Zeros));
        OciBundleException e = f.Fails(layout);
        Assert.AreEqual("OCIB1322", e.Code, e.Message);
        StringAssert.Contains(e.Message, "layer 1 of 2");
        StringAssert.Contains(e.Message, Zeros);
        CollectionAssert.AreEqual(Array.Empty<string>(), f.CacheEntries());
    }

    [TestMethod]
    [DataRow(-1, DisplayName = "a diff_id missing")]
    [DataRow(1, DisplayName = "a diff_id too many")]
    [DataRow(-2, DisplayName = "no diff_ids at all")]
    public void ADiffIdCountOtherThanTheLayersIsOCIB1323BeforeAnythingIsUnpacked(int change)
    {
        using var f = new Fixture();
        string layout = Path.Combine(f.Root, "count");
        OciLayoutMaker.Write(layout, Two(f), diffIds: ids => change < 0 ? ids.Take(ids.Count + change) : ids.Concat(Enumerable.Repeat(Zeros, change)));
        var log = new List<string>();
        OciBundleException e;
        try
        {
            f.Materialize(layout, log);
            throw new AssertFailedException("unpacked");
        }
        catch (OciBundleException caught)
        {
            e = caught;
        }

        Assert.AreEqual("OCIB1323", e.Code, e.Message);
        StringAssert.Contains(e.Message, "lists 2 layers");
        StringAssert.Contains(e.Message, $"lists {2 + change} (");
        if (change < 0)
        {
            StringAssert.Contains(e.Message, "no diff_id for ");
            StringAssert.Contains(e.Message, "layer 2 (sha256:", "the layer without one is named");
        }

        CollectionAssert.AreEqual(Array.Empty<string>(), f.CacheEntries());
    }

    [TestMethod]
    public void AnOciArchiveWhoseDiffIdsAreWrongIsOCIB1322AndLeavesNothingInTheCache()
    {
        using var f = new Fixture();
        string layout = Path.Combine(f.Root, "layout");
        OciLayoutMaker.Write(layout, Two(f), diffIds: ids => new[] { ids[0], Zeros });
        string archive = Path.Combine(f.Root, "image.oci.tar");
        OciLayoutMaker.Archive(layout, archive);
        OciBundleException e = f.Fails(archive);
        Assert.AreEqual("OCIB1322", e.Code, e.Message);
        StringAssert.Contains(e.Message, "layer 2 of 2");
        StringAssert.Contains(e.Message, archive);
        CollectionAssert.AreEqual(Array.Empty<string>(), f.CacheEntries());

        // And a second try does not find half an entry either: the same error.
        Assert.AreEqual("OCIB1322", f.Fails(archive).Code);
    }

    [TestMethod]
    [DataRow("gzip")]
    [DataRow("zstd")]
    [DataRow("none")]
    public void TheDiffIdIsTheDigestOfTheWholeUncompressedTarWhateverTheCompression(string compression)
    {
        using var f = new Fixture();
        string layout = Path.Combine(f.Root, compression);
        (Func<Stream, Stream>? compressor, string mediaType) = compression switch
        {
            "zstd" => ((Func<Stream, Stream>?)(s => new ZstdSharp.CompressionStream(s, 3, leaveOpen: true)), "application/vnd.oci.image.layer.v1.tar+zstd"),
            "none" => (s => new BufferedStream(new KeepOpen(s)), "application/vnd.oci.image.layer.v1.tar"),
            _ => (null, "application/vnd.oci.image.layer.v1.tar+gzip"),
        };
        string[] layers = Two(f);
        Assert.IsTrue(new FileInfo(layers[1]).Length % 512 == 0 && new FileInfo(layers[1]).Length > 1024, "a tar with its end-of-archive blocks");
        OciLayoutMaker.Write(layout, layers, compressor: compressor, layerMediaType: mediaType);
        var log = new List<string>();
        MaterializedSysroot m = f.Materialize(layout, log);
        Assert.AreEqual("base", File.ReadAllText(Path.Combine(m.Root, "usr/lib/libbase.so.1")));
        StringAssert.Contains(string.Join("\n", log), "each matching its digest and its diff_id");
    }

    [TestMethod]
    [DataRow("middle", DisplayName = "a byte in the middle of the compressed data")]
    [DataRow("trailer", DisplayName = "a byte near the gzip trailer")]
    [DataRow("method", DisplayName = "the gzip header's compression method (the decompressor refuses the stream)")]
    [DataRow("truncated", DisplayName = "the blob cut in half (the tar ends early)")]
    [DataRow("zstd-middle", DisplayName = "a byte in the middle of zstd data")]
    [DataRow("zstd-magic", DisplayName = "a zstd frame header the decompressor refuses")]
    public void ADamagedLayerBlobIsOCIB1314WhateverTheDecompressorMakesOfIt(string damage)
    {
        using var f = new Fixture();
        string big = f.Layer("big.tar", Enumerable.Range(0, 200).Select(n => ($"usr/share/f{n}", string.Concat(Enumerable.Repeat($"line {n} of some text\n", 50)))).ToArray());
        string layout = Path.Combine(f.Root, "damaged");
        bool zstd = damage.StartsWith("zstd", StringComparison.Ordinal);
        OciLayoutMaker.Write(layout, new[] { big }, compressor: zstd ? s => new ZstdSharp.CompressionStream(s, 3, leaveOpen: true) : null, layerMediaType: zstd ? "application/vnd.oci.image.layer.v1.tar+zstd" : "application/vnd.oci.image.layer.v1.tar+gzip");
        string blob = Directory.GetFiles(Path.Combine(layout, "blobs", "sha256")).OrderByDescending(p => new FileInfo(p).Length).First();
        byte[] bytes = File.ReadAllBytes(blob);
        switch (damage)
        {
            case "middle" or "zstd-middle": bytes[bytes.Length / 2] ^= 0x5a; break;
            case "zstd-magic": bytes[4] = 0xff; bytes[5] = 0xff; break;
            case "trailer": bytes[^20] ^= 0xff; break;
            case "method": bytes[2] = 7; break;
            default: bytes = bytes[..(bytes.Length / 2)]; break;
        }

        File.WriteAllBytes(blob, bytes);
        OciBundleException e = f.Fails(layout);
        Assert.AreEqual("OCIB1314", e.Code, e.Message);
        StringAssert.Contains(e.Message, Path.GetFileName(blob));
        CollectionAssert.AreEqual(Array.Empty<string>(), f.CacheEntries());
    }

    [TestMethod]
    public void ADamagedZstdTarballIsOCIB1313NotARawDecompressorError()
    {
        using var f = new Fixture();
        string tar = f.Layer("root.tar", Enumerable.Range(0, 100).Select(n => ($"usr/share/f{n}", string.Concat(Enumerable.Repeat($"line {n}\n", 80)))).ToArray());
        string zst = Path.Combine(f.Root, "root.tar.zst");
        using (FileStream output = File.Create(zst))
        using (var z = new ZstdSharp.CompressionStream(output, 3))
        using (FileStream input = File.OpenRead(tar))
        {
            input.CopyTo(z);
        }

        byte[] bytes = File.ReadAllBytes(zst);
        bytes[4] = 0xff; // the frame header's descriptor: "Unsupported frame parameter"
        bytes[5] = 0xff;
        File.WriteAllBytes(zst, bytes);
        OciBundleException e = f.Fails(zst);
        Assert.AreEqual("OCIB1313", e.Code, e.Message);
        CollectionAssert.AreEqual(Array.Empty<string>(), f.CacheEntries());
    }

    [TestMethod]
    public void ATarHeaderWhoseNumberOverflowsIsOCIB1313NotARawException()
    {
        using var f = new Fixture();
        string tar = Path.Combine(f.Root, "overflow.tar");
        using (FileStream s = File.Create(tar))
        using (var w = new TarWriter(s, TarEntryFormat.Ustar))
        {
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "etc/x") { DataStream = new MemoryStream("x"u8.ToArray()) });
        }

        // The uid field in base-256 (its first byte's high bit) with more digits than an int holds, and the header's checksum made right.
        byte[] bytes = File.ReadAllBytes(tar);
        bytes[108] = 0x80;
        bytes.AsSpan(109, 7).Fill(0xff);
        bytes.AsSpan(148, 8).Fill((byte)' ');
        int sum = bytes.AsSpan(0, 512).ToArray().Sum(b => (int)b);
        System.Text.Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(bytes, 148);
        File.WriteAllBytes(tar, bytes);
        Assert.AreEqual("OCIB1313", f.Fails(tar).Code);
        string layout = Path.Combine(f.Root, "layout");
        OciLayoutMaker.Write(layout, new[] { tar });
        Assert.AreEqual("OCIB1313", f.Fails(layout).Code, "in a layer whose digests are right");
        CollectionAssert.AreEqual(Array.Empty<string>(), f.CacheEntries());
    }

    /// <summary>Writes through to a stream and leaves it open when disposed (an uncompressed "compressor").</summary>
    private sealed class KeepOpen(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    }
}
