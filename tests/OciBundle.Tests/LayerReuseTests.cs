using System.Security.Cryptography;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Interop;
using OciBundle.Tasks;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>Issue 17: an image costs what changed. A layer made from the same inputs is linked from the last layout, never read or compressed again.</summary>
[TestClass]
public sealed class LayerReuseTests
{
    private static string ImageOf(SafetyTests.Fixture f) => Path.Combine(f.Root, "proj", "bin", "oci-image");

    private static JObject Manifest(string image)
    {
        string digest = (string)JObject.Parse(File.ReadAllText(Path.Combine(image, "index.json")))["manifests"]![0]!["digest"]!;
        return JObject.Parse(File.ReadAllText(Path.Combine(image, "blobs", "sha256", digest[7..])));
    }

    private static string[] Layers(string image) => Manifest(image)["layers"]!.Select(l => (string)l["digest"]!).ToArray();

    private static string Blob(string image, string digest) => Path.Combine(image, "blobs", "sha256", digest[7..]);

    private static string Sha256(string path) => "sha256:" + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();

    /// <summary>Publishes and returns the image's summary line.</summary>
    private static string PublishImage(SafetyTests.Fixture f, Action<BuildOciContainer>? more = null)
    {
        f.Publish(t => { t.ImageDirectory = ImageOf(f); more?.Invoke(t); });
        return f.Engine.Messages.First(m => m.Importance == Microsoft.Build.Framework.MessageImportance.High && m.Message!.Contains("(OCI image", StringComparison.Ordinal)).Message!;
    }

    private static string[] LayerLines(SafetyTests.Fixture f) => f.Engine.Messages.Select(m => m.Message!).Where(m => m.StartsWith("layer sha256:", StringComparison.Ordinal)).ToArray();

    [TestMethod]
    public void AnAppChangeWritesTheAppLayerOnlyAndGivesTheDigestOfACleanBuild()
    {
        using var f = new SafetyTests.Fixture();
        string image = ImageOf(f);
        f.Publish(t => t.ImageDirectory = image);
        string[] before = Layers(image);
        Assert.AreEqual(3, before.Length, "system, content (libSystem.Native.so, which no deps.json library claims) and app (the fixture has no runtime files)");
        ulong systemInode = NativeMethods.LStat(Blob(image, before[0]))!.Value.Inode;

        File.WriteAllText(Path.Combine(f.PublishDir, "Hello"), "#!/bin/sh\necho hello, changed\n");
        string summary = PublishImage(f);

        StringAssert.Contains(summary, "3 layers, 2 reused");
        string[] after = Layers(image);
        Assert.AreEqual(before[0], after[0]);
        Assert.AreEqual(before[1], after[1], "the content layer is reused too (issue 31)");
        Assert.AreNotEqual(before[2], after[2]);
        Assert.AreEqual(systemInode, NativeMethods.LStat(Blob(image, after[0]))!.Value.Inode, "the system layer's blob is the file written before: linked, not written");
        Assert.AreEqual(1, LayerLines(f).Count(l => l.Contains("reused as it was", StringComparison.Ordinal) && l.EndsWith("system libraries and data", StringComparison.Ordinal)), string.Join("\n", LayerLines(f)));
        foreach (string digest in after)
        {
            Assert.AreEqual(digest, Sha256(Blob(image, digest)), "every blob is what its digest says");
        }

        // The same inputs, from nothing: the same image.
        string reusedManifest = (string)JObject.Parse(File.ReadAllText(Path.Combine(image, "index.json")))["manifests"]![0]!["digest"]!;
        Directory.Delete(image, recursive: true);
        File.Delete(f.State);
        f.Publish(t => t.ImageDirectory = image);
        Assert.AreEqual(reusedManifest, (string)JObject.Parse(File.ReadAllText(Path.Combine(image, "index.json")))["manifests"]![0]!["digest"]!);
    }

    [TestMethod]
    public void ABlobChangedInTheLayoutIsNeverReusedButWrittenAgain()
    {
        using var f = new SafetyTests.Fixture();
        string image = ImageOf(f);
        f.Publish(t => { t.ImageDirectory = image; t.ImageLayering = "SingleAppLayer"; }); // system and app: both change here
        string system = Layers(image)[0];

        // Someone rewrites the system layer's blob in place, same size, and puts its time back.
        string blob = Blob(image, system);
        DateTime time = File.GetLastWriteTimeUtc(blob);
        byte[] bytes = File.ReadAllBytes(blob);
        bytes[^20] ^= 0xff;
        File.WriteAllBytes(blob, bytes);
        File.SetLastWriteTimeUtc(blob, time);

        File.WriteAllText(Path.Combine(f.PublishDir, "Hello"), "#!/bin/sh\necho hello, changed\n");
        string summary = PublishImage(f, t => t.ImageLayering = "SingleAppLayer");

        Assert.IsFalse(summary.Contains("reused", StringComparison.Ordinal), summary);
        Assert.AreEqual(system, Layers(image)[0], "the same inputs give the same layer");
        Assert.AreEqual(system, Sha256(Blob(image, system)), "written again: the damaged blob did not travel on");
    }

    [TestMethod]
    public void ASysrootLibraryChangeWritesTheSystemLayerAgain()
    {
        using var f = new SafetyTests.Fixture();
        string image = ImageOf(f);
        f.Publish(t => { t.ImageDirectory = image; t.ImageLayering = "SingleAppLayer"; }); // system and app: both change here
        string[] before = Layers(image);

        // Same bytes, new identity (a package reinstall): the fingerprint changes, so the layer is written; its digest does not.
        string libc = Path.Combine(f.Sysroot, "usr", "lib", "x86_64-linux-gnu", "libc.so.6");
        File.Copy(libc, libc + ".new");
        File.Move(libc + ".new", libc, overwrite: true);
        File.AppendAllText(Path.Combine(f.PublishDir, "Hello"), "# v2\n");
        string summary = PublishImage(f, t => t.ImageLayering = "SingleAppLayer");

        Assert.IsFalse(summary.Contains("reused", StringComparison.Ordinal), summary);
        Assert.AreEqual(before[0], Layers(image)[0], "same bytes: same layer digest, written again");
    }

    [TestMethod]
    public void AStateFileNamingAFileOutsideTheLayoutNeverBringsItIn()
    {
        // obj/ is the project's, but a forged state must still not make a root build link a host file into the image.
        using var f = new SafetyTests.Fixture();
        string image = ImageOf(f);
        f.Publish(t => t.ImageDirectory = image);
        string[] layers = Layers(image);
        string secret = Path.Combine(f.Root, "secret");
        File.WriteAllText(secret, "do not ship");
        string escape = "sha256:../../../../../secret";
        string[] lines = File.ReadAllLines(f.State);
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("layer\tsystem", StringComparison.Ordinal))
            {
                lines[i] = lines[i].Replace(layers[0], escape, StringComparison.Ordinal);
            }
            else if (lines[i].StartsWith("ientry\tblobs/sha256/" + layers[0][7..], StringComparison.Ordinal))
            {
                lines[i] = "ientry\tblobs/sha256/../../../../../secret\t" + Interop.NativeMethods.Identity(secret);
            }
        }

        File.WriteAllLines(f.State, lines);
        File.AppendAllText(Path.Combine(f.PublishDir, "Hello"), "# v2\n");
        PublishImage(f);

        Assert.AreEqual(layers[0], Layers(image)[0]);
        Assert.IsFalse(Directory.EnumerateFiles(image, "*", SearchOption.AllDirectories).Any(p => File.ReadAllBytes(p).AsSpan().IndexOf("do not ship"u8) >= 0), "the host file is in no blob");
        Assert.AreEqual(1u, NativeMethods.LStat(secret)!.Value.Nlink, "and was never linked");
    }

    /// <summary>Puts <paramref name="replace"/> where the system layer's blob was and records its identity in the state, as a forger would.</summary>
    private static (string Secret, string System) ForgeSystemBlob(SafetyTests.Fixture f, string image, Action<string, string> replace)
    {
        f.Publish(t => t.ImageDirectory = image);
        string system = Layers(image)[0];
        string secret = Path.Combine(f.Root, "secret");
        File.WriteAllText(secret, "do not ship");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string blob = Blob(image, system);
        File.Delete(blob);
        replace(secret, blob);
        string[] lines = File.ReadAllLines(f.State);
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("ientry\tblobs/sha256/" + system[7..] + "\t", StringComparison.Ordinal))
            {
                lines[i] = "ientry\tblobs/sha256/" + system[7..] + "\t" + NativeMethods.Identity(blob);
            }
        }

        File.WriteAllLines(f.State, lines);
        File.AppendAllText(Path.Combine(f.PublishDir, "Hello"), "# v2\n");
        return (secret, system);
    }

    private static void AssertNotBroughtIn(SafetyTests.Fixture f, string image, string secret, string system)
    {
        Assert.AreEqual(system, Layers(image)[0]);
        Assert.AreEqual(system, Sha256(Blob(image, system)), "the layer was written again");
        Assert.IsFalse(Directory.EnumerateFileSystemEntries(image, "*", SearchOption.AllDirectories).Any(p => File.ResolveLinkTarget(p, returnFinalTarget: false) is not null), "no symlink in the layout");
        Assert.AreEqual(1u, NativeMethods.LStat(secret)!.Value.Nlink, "the host file was never linked");
        Assert.AreEqual(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secret), "nor its mode changed");
    }

    [TestMethod]
    public void AForgedStateWhoseBlobIsASymlinkToAHostFileNeverBringsItIn()
    {
        using var f = new SafetyTests.Fixture();
        string image = ImageOf(f);
        (string secret, string system) = ForgeSystemBlob(f, image, (secret, blob) => File.CreateSymbolicLink(blob, secret));
        PublishImage(f);
        AssertNotBroughtIn(f, image, secret, system);
    }

    [TestMethod]
    public void AForgedStateWhoseBlobIsAHardLinkOfAHostFileNeverBringsItIn()
    {
        using var f = new SafetyTests.Fixture();
        string image = ImageOf(f);
        (string secret, string system) = ForgeSystemBlob(f, image, (secret, blob) => Assert.AreEqual(0, NativeMethods.link(secret, blob)));
        PublishImage(f);
        AssertNotBroughtIn(f, image, secret, system);
    }

    [TestMethod]
    public void TwoPublishesOfOneProjectAtOnceRunOneAfterTheOtherAndLeaveNothingAside()
    {
        // The second used to read the state before the first saved its own, and so kept the first's new blobs aside
        // as files it had not written (OCIB3007, a .oci-image.kept-* folder).
        using var f = new SafetyTests.Fixture();
        string image = ImageOf(f);
        f.Publish(t => t.ImageDirectory = image);
        File.WriteAllText(Path.Combine(f.PublishDir, "Hello"), "#!/bin/sh\necho hello, changed\n");
        BuildOciContainer[] tasks = { f.Task(t => t.ImageDirectory = image), f.Task(t => t.ImageDirectory = image) };
        bool[] results = tasks.AsParallel().WithDegreeOfParallelism(2).Select(t => t.Execute()).ToArray();

        foreach (BuildOciContainer task in tasks)
        {
            var engine = (FakeBuildEngine)task.BuildEngine;
            Assert.AreEqual(0, engine.Warnings.Count, string.Join("\n", engine.Warnings.Select(w => $"{w.Code}: {w.Message}")));
        }

        CollectionAssert.AreEqual(new[] { true, true }, results);
        Assert.AreEqual(0, Directory.GetFileSystemEntries(Path.GetDirectoryName(image)!, ".oci-image.*").Count(p => !p.EndsWith(".lock", StringComparison.Ordinal)), "nothing kept aside");
        foreach (string digest in Layers(image))
        {
            Assert.AreEqual(digest, Sha256(Blob(image, digest)));
        }
    }

    [TestMethod]
    public void ZstdLayersAreDeclaredAsZstdAndAChangeOfCompressionWritesEveryLayer()
    {
        using var f = new SafetyTests.Fixture();
        string image = ImageOf(f);
        f.Publish(t => t.ImageDirectory = image);
        string summary = PublishImage(f, t => t.ImageLayerCompression = "zstd");

        Assert.IsFalse(summary.Contains("reused", StringComparison.Ordinal), summary);
        foreach (JToken layer in Manifest(image)["layers"]!)
        {
            Assert.AreEqual("application/vnd.oci.image.layer.v1.tar+zstd", (string)layer["mediaType"]!);
            byte[] head = File.ReadAllBytes(Blob(image, (string)layer["digest"]!))[..4];
            CollectionAssert.AreEqual(new byte[] { 0x28, 0xb5, 0x2f, 0xfd }, head, "zstd's frame magic");
        }
    }

    [TestMethod]
    public void AnUnknownLayerCompressionIsACodedErrorAndTheImageIsKept()
    {
        using var f = new SafetyTests.Fixture();
        string image = ImageOf(f);
        f.Publish(t => t.ImageDirectory = image);
        string index = File.ReadAllText(Path.Combine(image, "index.json"));

        CollectionAssert.AreEqual(new[] { "OCIB1152" }, f.Fail(t => { t.ImageDirectory = image; t.ImageLayerCompression = "xz"; }));
        StringAssert.Contains(f.Engine.Errors.Single().Message, "OciImageLayerCompression");
        Assert.AreEqual(index, File.ReadAllText(Path.Combine(image, "index.json")));
    }
}
