using System.Formats.Tar;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Rootfs;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// Issue 25's leftover: with <c>OciImageBase</c> the bundle holds the base's tree as its layers have it, owners, groups
/// and setuid, setgid and sticky bits included (the sysroot cache unpacks without them). A base of three layers: the
/// fixture's tree; a Debian-like <c>unix_chkpwd</c> (root:42 02755), <c>/var/mail</c> (root:8 02775), a 01777 drop
/// folder, a daemon's folder, file and link of uid 100:101, and a setuid file; then a layer that removes the setuid file
/// (whiteout) and gives the daemon's file another mode.
/// </summary>
[TestClass]
public sealed class BaseImageOwnershipTests
{
    private static string Layer(string path, params (string Name, TarEntryType Type, int Mode, int Uid, int Gid, string? Data)[] entries)
    {
        using FileStream stream = File.Create(path);
        using var tar = new TarWriter(stream, TarEntryFormat.Pax);
        foreach ((string name, TarEntryType type, int mode, int uid, int gid, string? data) in entries)
        {
            var entry = new PaxTarEntry(type, name) { Mode = (UnixFileMode)mode, Uid = uid, Gid = gid, ModificationTime = DateTimeOffset.UnixEpoch };
            if (type == TarEntryType.SymbolicLink)
            {
                entry.LinkName = data!;
            }
            else if (data is not null)
            {
                entry.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(data));
            }

            tar.WriteEntry(entry);
        }

        return path;
    }

    /// <summary>The layout of the three layers, beside the fixture's own base.</summary>
    private static string OwnedBase(BaseImageTests.Fixture f)
    {
        string layout = f.Combine("owned-base");
        const TarEntryType Dir = TarEntryType.Directory, File = TarEntryType.RegularFile, Link = TarEntryType.SymbolicLink;
        string second = Layer(f.Combine("owners.tar"),
            ("usr/sbin/", Dir, 0b111_101_101, 0, 0, null),
            ("usr/sbin/unix_chkpwd", File, 0b010_111_101_101, 0, 42, "#!/bin/sh\n"),
            ("usr/bin/", Dir, 0b111_101_101, 0, 0, null),
            ("usr/bin/gone", File, 0b100_111_101_101, 0, 0, "setuid, removed by the next layer\n"),
            ("var/", Dir, 0b111_101_101, 0, 0, null),
            ("var/mail/", Dir, 0b010_111_111_101, 0, 8, null),
            ("srv/drop/", Dir, 0b001_111_111_111, 0, 0, null),
            ("var/lib/daemon/", Dir, 0b111_101_000, 100, 101, null),
            ("var/lib/daemon/state", File, 0b110_100_000, 100, 101, "state\n"),
            ("var/lib/daemon/current", Link, 0b111_111_111, 100, 101, "state"));
        string third = Layer(f.Combine("later.tar"),
            ("usr/bin/.wh.gone", File, 0, 0, 0, null),
            ("var/lib/daemon/state", File, 0b110_000_000, 100, 101, "state, later\n"));
        OciLayoutMaker.Write(layout, new[] { f.Combine("base.tar"), second, third }, tag: "1");
        return layout;
    }

    private static (int Uid, int Gid, int Mode) Stat(string path) =>
        NativeMethods.LStat(path) is { } s ? ((int)s.Uid, (int)s.Gid, (int)(s.Mode & 0xFFF)) : throw new AssertFailedException($"{path} is missing");

    [TestMethod]
    public void TheBundleGivesTheBasesPathsTheOwnersAndModesOfItsLayersAndTheImageDoesNotAddThemAgain()
    {
        TestEnvironment.Require(TestEnvironment.IsRoot, "root (to give the base's files their owners)");
        using var f = new BaseImageTests.Fixture();
        string layout = OwnedBase(f);
        string image = Path.Combine(Path.GetDirectoryName(f.Bundle)!, "oci-image");
        f.Publish(image, layout: layout);

        string rootfs = Path.Combine(f.Bundle, "rootfs");
        Assert.AreEqual((0, 42, 0b010_111_101_101), Stat(rootfs + "/usr/sbin/unix_chkpwd"), "root:42 02755, setgid kept");
        Assert.AreEqual((0, 8, 0b010_111_111_101), Stat(rootfs + "/var/mail"), "root:8 02775");
        Assert.AreEqual((0, 0, 0b001_111_111_111), Stat(rootfs + "/srv/drop"), "01777");
        Assert.AreEqual((100, 101, 0b111_101_000), Stat(rootfs + "/var/lib/daemon"));
        Assert.AreEqual((100, 101, 0b110_000_000), Stat(rootfs + "/var/lib/daemon/state"), "the last layer's header");
        Assert.AreEqual("state, later\n", File.ReadAllText(rootfs + "/var/lib/daemon/state"));
        Assert.AreEqual((100, 101), (Stat(rootfs + "/var/lib/daemon/current").Uid, Stat(rootfs + "/var/lib/daemon/current").Gid), "a link's owner too");
        Assert.IsNull(NativeMethods.LStat(rootfs + "/usr/bin/gone"), "removed by the third layer's whiteout");
        Assert.AreEqual((0, 0, 0b111_101_101), Stat(rootfs + "/app/Hello"), "the product's own files keep their modes");
        Assert.AreEqual((0, 0, 0b111_000_000), Stat(f.Bundle), "only root enters a bundle whose base has setuid files and other users' folders");

        // The image: the base's three layers as they are, and none of those paths in the product's layers.
        JObject manifest = JObject.Parse(File.ReadAllText(Path.Combine(image, "blobs", "sha256", BaseImageTests.ManifestDigest(image)[7..])));
        var own = manifest["layers"]!.Skip(3).SelectMany(l => BaseImageTests.LayerPaths(image, (string)l["digest"]!)).ToList();
        foreach (string path in new[] { "/usr/sbin/unix_chkpwd", "/usr/sbin", "/var/mail", "/srv/drop", "/var/lib/daemon", "/var/lib/daemon/state", "/var/lib/daemon/current", "/usr/bin/gone" })
        {
            CollectionAssert.DoesNotContain(own, path, string.Join("\n", own));
        }

        // Written again from scratch: the same image.
        string again = Path.Combine(Path.GetDirectoryName(f.Bundle)!, "oci-image-2");
        Directory.Delete(f.Bundle, recursive: true);
        f.Publish(again, layout: layout);
        Assert.AreEqual(BaseImageTests.ManifestDigest(image), BaseImageTests.ManifestDigest(again));
        Assert.AreEqual((0, 42, 0b010_111_101_101), Stat(rootfs + "/usr/sbin/unix_chkpwd"));
    }

    [TestMethod]
    public void ARootlessBundleGivesTheBasesPathsToItsUserWithoutSetuidSetgidOrGroupWrite()
    {
        TestEnvironment.Require(TestEnvironment.IsRoot, "root (to own files as another user)");
        using var dir = new TempDirectory("ocibundle-base-owners-");
        string source = dir.Combine("chkpwd");
        File.WriteAllText(source, "#!/bin/sh\n");
        var plan = new RootfsPlan();
        plan.AddAsMade(new RootfsEntry("/var", RootfsEntryKind.Directory, (UnixFileMode)0b111_101_101, "base") { FromBaseLayers = true });
        plan.AddAsMade(new RootfsEntry("/var/mail", RootfsEntryKind.Directory, (UnixFileMode)0b010_111_111_101, "base") { OwnerId = 0, GroupId = 8, FromBaseLayers = true });
        plan.AddAsMade(new RootfsEntry("/tmp", RootfsEntryKind.Directory, (UnixFileMode)0b001_111_111_111, "base") { FromBaseLayers = true });
        plan.AddAsMade(new RootfsEntry("/chkpwd", RootfsEntryKind.File, (UnixFileMode)0b010_111_101_101, "base")
        {
            SourcePath = source, Size = new FileInfo(source).Length, OwnerId = 0, GroupId = 42, FromBaseLayers = true, ModeGiven = true,
        });
        var logged = new List<string>();
        string bundle = dir.Combine("bundle");
        new BundleWriter(bundle, TargetDefaults.Epoch, owner: (1002, 1003)) { Log = logged.Add }.Write(plan, new Dictionary<string, byte[]>());

        Assert.AreEqual((1002, 1003, 0b111_101_101), Stat(bundle + "/rootfs/chkpwd"), "the rootless user's, not setgid: it would run as that user's group on the host");
        Assert.AreEqual((1002, 1003, 0b111_101_101), Stat(bundle + "/rootfs/var/mail"), "no setgid, no group write: the group is not the base's");
        Assert.AreEqual((1002, 1003, 0b001_111_111_111), Stat(bundle + "/rootfs/tmp"), "a sticky folder stays writable by all");
        Assert.AreNotEqual(0b111_000_000, Stat(bundle).Mode, "a rootless bundle's user must reach it");
        Assert.AreEqual(1, logged.Count(l => l.Contains("2 paths of the base image", StringComparison.Ordinal)), string.Join("\n", logged));
    }
}
