using System.IO.Compression;
using System.Security.Cryptography;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Images;
using OciBundle.Rootfs;
using OciBundle.Testing;
using OciBundle.Model;

namespace OciBundle.Tests;

/// <summary>Issue 17: layers compressed on every core, in chunks, with bytes that never depend on the number of cores.</summary>
[TestClass]
public sealed class LayerCompressionTests
{
    private static byte[] Data(int length, int seed)
    {
        // Half text-like (compressible), half random: a chunk boundary falls in both kinds.
        var random = new Random(seed);
        byte[] data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = i % 4096 < 2048 ? (byte)"the quick brown fox "[(i / 7) % 20] : (byte)random.Next(256);
        }

        return data;
    }

    private static byte[] Compress(byte[] input, LayerCompression compression, int parallelism, int writeSize, long expected = 0)
    {
        using var output = new MemoryStream();
        using (var compressor = new ChunkedCompressor(output, compression, parallelism, expected: expected))
        {
            for (int offset = 0; offset < input.Length; offset += writeSize)
            {
                compressor.Write(input, offset, Math.Min(writeSize, input.Length - offset));
            }

            compressor.Finish();
        }

        return output.ToArray();
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(1)]
    [DataRow(ChunkedCompressor.ChunkSize - 1)]
    [DataRow(ChunkedCompressor.ChunkSize)]
    [DataRow(ChunkedCompressor.ChunkSize + 1)]
    [DataRow(3 * ChunkedCompressor.ChunkSize + ChunkedCompressor.ChunkSize / 2)]
    public void GzipAndZstdRoundTripAndTheBytesDoNotDependOnTheCores(int length)
    {
        byte[] input = Data(length, length);
        foreach (LayerCompression compression in new[] { LayerCompression.Gzip, LayerCompression.Zstd })
        {
            byte[] one = Compress(input, compression, parallelism: 1, writeSize: 512);
            byte[] many = Compress(input, compression, parallelism: 8, writeSize: 100_000);
            CollectionAssert.AreEqual(one, many, $"{compression}: 1 core and 8 give the same bytes, whatever the write sizes");
            foreach (long expected in new long[] { length, length / 3, 10L * ChunkedCompressor.ChunkSize })
            {
                CollectionAssert.AreEqual(one, Compress(input, compression, parallelism: 2, writeSize: 4096, expected), $"{compression}: the size expected ({expected}) only sizes the first buffer");
            }
            byte[] members = Enumerable.Range(0, Math.Max(1, (length + ChunkedCompressor.ChunkSize - 1) / ChunkedCompressor.ChunkSize))
                .SelectMany(i => ChunkedCompressor.Compress(input.AsSpan(i * ChunkedCompressor.ChunkSize, Math.Min(ChunkedCompressor.ChunkSize, length - (i * ChunkedCompressor.ChunkSize))), compression)).ToArray();
            CollectionAssert.AreEqual(members, one, $"{compression}: each chunk as it compresses alone, its buffer grown as it filled or not");

            using var read = new MemoryStream();
            using (Stream decompress = compression == LayerCompression.Gzip
                ? new GZipStream(new MemoryStream(one), CompressionMode.Decompress)
                : new ZstdSharp.DecompressionStream(new MemoryStream(one)))
            {
                decompress.CopyTo(read);
            }

            CollectionAssert.AreEqual(input, read.ToArray(), $"{compression}: what was written comes back");
        }
    }

    [TestMethod]
    public void GnuGzipPythonAndZstdReadTheChunkedStreamsWhole()
    {
        // Members and frames joined: every reader must decompress all of them, not stop after the first chunk.
        TestEnvironment.Require(File.Exists("/usr/bin/python3") && TestEnvironment.Which("gzip") is not null && TestEnvironment.Which("zstd") is not null, "python3, gzip and zstd (Debian packages)");
        using var dir = new TempDirectory();
        byte[] input = Data(3 * ChunkedCompressor.ChunkSize + 12345, 7);
        string expected = Convert.ToHexString(SHA256.HashData(input)).ToLowerInvariant();
        File.WriteAllBytes(dir.Combine("layer.gz"), Compress(input, LayerCompression.Gzip, 4, 65536));
        File.WriteAllBytes(dir.Combine("layer.zst"), Compress(input, LayerCompression.Zstd, 4, 65536));

        ProcessResult gzip = TestEnvironment.RunCapture("sh", "-c", $"gzip -dc '{dir.Combine("layer.gz")}' | sha256sum");
        ProcessResult python = TestEnvironment.RunCapture("/usr/bin/python3", "-c", "import gzip, hashlib, sys; print(hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest())", dir.Combine("layer.gz"));
        ProcessResult zstd = TestEnvironment.RunCapture("sh", "-c", $"zstd -dc '{dir.Combine("layer.zst")}' | sha256sum");
        StringAssert.StartsWith(gzip.Output, expected, gzip.All);
        StringAssert.StartsWith(python.Output, expected, python.All);
        StringAssert.StartsWith(zstd.Output, expected, zstd.All);
        Assert.AreEqual(0, TestEnvironment.RunCapture("gzip", "-t", dir.Combine("layer.gz")).ExitCode, "gzip -t: every member's CRC and length check");
    }

    [TestMethod]
    public void AChunkedLayerIsNotMuchLargerThanOneStream()
    {
        byte[] input = Data(4 * ChunkedCompressor.ChunkSize, 3);
        using var whole = new MemoryStream();
        using (var gzip = new GZipStream(whole, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(input);
        }

        long chunked = Compress(input, LayerCompression.Gzip, 2, 65536).Length;
        Assert.IsTrue(chunked <= whole.Length * 1.01, $"chunked {chunked} bytes vs {whole.Length} as one stream: under 1% more");
    }

    private static RootfsPlan Plan(string src)
    {
        Directory.CreateDirectory(src);
        File.WriteAllBytes(Path.Combine(src, "App.dll"), Data(3 * ChunkedCompressor.ChunkSize + 777, 1));
        File.WriteAllBytes(Path.Combine(src, "System.Private.CoreLib.dll"), Data(2 * ChunkedCompressor.ChunkSize, 2));
        var plan = new RootfsPlan();
        HostTree.Add(plan, src, "/app", "publish output");
        plan.AddContent("/etc/passwd", "root:x:0:0::/root:/sbin/nologin\n"u8.ToArray(), (UnixFileMode)420, "accounts");
        return plan;
    }

    private static ImageRequest Request(string dir, LayerCompression compression, int parallelism) => new()
    {
        Directory = dir,
        Tag = "latest",
        Name = "localhost/app:latest",
        ArchivePath = null,
        Architecture = "amd64",
        WorkingDirectory = "/app",
        User = "1654:1654",
        Entrypoint = new[] { "/app/App" },
        Environment = Array.Empty<KeyValuePair<string, string>>(),
        RuntimeFiles = new HashSet<string> { "/app/System.Private.CoreLib.dll" },
        Labels = new Dictionary<string, string>(),
        ExposedPorts = Array.Empty<string>(),
        Epoch = 1700000000,
        Compression = compression,
        Parallelism = parallelism,
    };

    [TestMethod]
    public void AnImageHasTheSameDigestOnOneCoreAndOnEight()
    {
        using var dir = new TempDirectory();
        RootfsPlan plan = Plan(dir.Combine("src"));
        foreach (LayerCompression compression in new[] { LayerCompression.Gzip, LayerCompression.Zstd })
        {
            ImageResult one = ImageLayoutWriter.Write(plan, Request(dir.Combine($"one-{compression}"), compression, 1));
            ImageResult eight = ImageLayoutWriter.Write(plan, Request(dir.Combine($"eight-{compression}"), compression, 8));
            Assert.AreEqual(one.ManifestDigest, eight.ManifestDigest, compression.ToString());

            // Every blob is what its digest says, and each layer's tar is its diff_id.
            string image = dir.Combine($"eight-{compression}");
            JObject manifest = JObject.Parse(File.ReadAllText(Path.Combine(image, "blobs", "sha256", eight.ManifestDigest[7..])));
            JObject config = JObject.Parse(File.ReadAllText(Path.Combine(image, "blobs", "sha256", ((string)manifest["config"]!["digest"]!)[7..])));
            string[] diffIds = config["rootfs"]!["diff_ids"]!.Values<string>().ToArray()!;
            JToken[] layers = manifest["layers"]!.ToArray();
            Assert.AreEqual(3, layers.Length);
            for (int i = 0; i < layers.Length; i++)
            {
                Assert.AreEqual(Storage.BlobCompression.Of(compression).LayerMediaType, (string)layers[i]["mediaType"]!);
                byte[] blob = File.ReadAllBytes(Path.Combine(image, "blobs", "sha256", ((string)layers[i]["digest"]!)[7..]));
                Assert.AreEqual((string)layers[i]["digest"]!, "sha256:" + Convert.ToHexString(SHA256.HashData(blob)).ToLowerInvariant());
                Assert.AreEqual((long)layers[i]["size"]!, blob.Length);
                using var tar = new MemoryStream();
                using (Stream decompress = compression == LayerCompression.Gzip ? new GZipStream(new MemoryStream(blob), CompressionMode.Decompress) : new ZstdSharp.DecompressionStream(new MemoryStream(blob)))
                {
                    decompress.CopyTo(tar);
                }

                Assert.AreEqual(diffIds[i], "sha256:" + Convert.ToHexString(SHA256.HashData(tar.ToArray())).ToLowerInvariant(), $"{compression} layer {i}: diff_id");
            }
        }
    }
}
