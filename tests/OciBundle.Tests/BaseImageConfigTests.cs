using System.Formats.Tar;
using System.IO.Compression;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Images;
using OciBundle.Model.Oci;
using OciBundle.Testing;
using Fixture = OciBundle.Tests.BaseImageTests.Fixture;

namespace OciBundle.Tests;

/// <summary>
/// Issue 25's review of <c>OciImageBase</c>: the base's accounts kept and the app user added; its history (with
/// <c>empty_layer</c> steps) and <c>StopSignal</c> kept; its <c>Volumes</c> checked against the app and the product's
/// files; its layer blobs linked, not copied again, on the next write.
/// </summary>
[TestClass]
public sealed class BaseImageConfigTests
{
    internal const string BasePasswd = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nmail:x:8:8:mail:/var/mail:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nsvc:x:999:999:Service,,,:/var/lib/svc:/bin/sh\n";
    internal const string BaseGroup = "root:x:0:\ndaemon:x:1:\nshadow:x:42:\nsvc:x:999:\nnogroup:x:65534:\n";

    internal static Action<string> Accounts(string passwd, string group, string? nsswitch = null) => tree =>
    {
        File.WriteAllText(Path.Combine(tree, "etc", "passwd"), passwd);
        File.WriteAllText(Path.Combine(tree, "etc", "group"), group);
        if (nsswitch is not null)
        {
            File.WriteAllText(Path.Combine(tree, "etc", "nsswitch.conf"), nsswitch);
        }
    };

    internal static string ImageOf(Fixture f) => Path.Combine(Path.GetDirectoryName(f.Bundle)!, "oci-image");

    /// <summary>A file of the image as its top-most layer holding it has it (null when none of the product's layers does).</summary>
    private static string? OwnLayersFile(string image, string path)
    {
        JObject manifest = BaseImageTests.Blob(image, BaseImageTests.ManifestDigest(image));
        string? found = null;
        foreach (JToken layer in manifest["layers"]!.Skip(1))
        {
            using var gzip = new GZipStream(File.OpenRead(Path.Combine(image, "blobs", "sha256", ((string)layer["digest"]!)[7..])), CompressionMode.Decompress);
            using var reader = new TarReader(gzip);
            while (reader.GetNextEntry() is { } entry)
            {
                if ("/" + entry.Name.TrimStart('.', '/') == path && entry.DataStream is { } data)
                {
                    found = new StreamReader(data).ReadToEnd();
                }
            }
        }

        return found;
    }

    [TestMethod]
    public void TheBasesAccountsAreKeptAndTheAppUserAdded()
    {
        using var f = new Fixture(addToTree: Accounts(BasePasswd, BaseGroup, "passwd: files sss\ngroup: files sss\nhosts: files myhostname dns\n"));
        f.Publish(ImageOf(f));

        string passwd = BasePasswd + "app:x:1654:1654:app:/home/app:/sbin/nologin\n";
        string group = BaseGroup + "app:x:1654:\n";
        Assert.AreEqual(passwd, File.ReadAllText(Path.Combine(f.Bundle, "rootfs", "etc", "passwd")), "the bundle: the base's lines as they are, then the app user");
        Assert.AreEqual(group, File.ReadAllText(Path.Combine(f.Bundle, "rootfs", "etc", "group")));
        Assert.AreEqual(passwd, OwnLayersFile(ImageOf(f), "/etc/passwd"), "the image: the same file on top of the base's");
        Assert.AreEqual(group, OwnLayersFile(ImageOf(f), "/etc/group"));
        Assert.AreEqual("passwd: files sss\ngroup: files sss\nhosts: files myhostname dns\n", File.ReadAllText(Path.Combine(f.Bundle, "rootfs", "etc", "nsswitch.conf")), "the base's name service order is its own");
        Assert.IsNull(OwnLayersFile(ImageOf(f), "/etc/nsswitch.conf"), "the base's layers carry it");
    }

    [TestMethod]
    public void ABaseThatHasTheAppUserKeepsItsFilesAsTheyAre()
    {
        string passwd = BasePasswd + "app:x:1654:1654::/home/app:/bin/sh\n";
        string group = BaseGroup + "app:x:1654:\n";
        using var f = new Fixture(addToTree: Accounts(passwd, group));
        f.Publish(ImageOf(f));

        Assert.AreEqual(passwd, File.ReadAllText(Path.Combine(f.Bundle, "rootfs", "etc", "passwd")));
        Assert.AreEqual(group, File.ReadAllText(Path.Combine(f.Bundle, "rootfs", "etc", "group")));
        Assert.IsNull(OwnLayersFile(ImageOf(f), "/etc/passwd"), "nothing changed: not shipped again");
    }

    [TestMethod]
    public void ABaseThatGivesTheAppUsersIdToAnotherAccountIsOCIB1660UnlessTheProcessRunsAsAnother()
    {
        string passwd = BasePasswd + "builder:x:1654:1654::/home/builder:/bin/sh\n";
        using var f = new Fixture(addToTree: Accounts(passwd, BaseGroup));
        CollectionAssert.AreEqual(new[] { "OCIB1660" }, f.Publish(ImageOf(f), succeed: false));
        StringAssert.Contains(f.Engine.Errors.Single().Message, "builder:x:1654");
        StringAssert.Contains(f.Engine.Errors.Single().Message, "OciBundleUser");

        // The fix the message names: the base's own user. Its accounts are then kept as they are.
        f.Publish(ImageOf(f), user: "999:999");
        Assert.AreEqual(passwd, File.ReadAllText(Path.Combine(f.Bundle, "rootfs", "etc", "passwd")));
        Assert.AreEqual(BaseGroup + "app:x:1654:\n", File.ReadAllText(Path.Combine(f.Bundle, "rootfs", "etc", "group")));
    }

    [TestMethod]
    [DataRow("/etc")]
    [DataRow("usr/etc")]
    public void ABaseWhoseEtcIsALinkIsRefusedAndNeverBringsTheBuildMachinesAccounts(string target)
    {
        using var f = new Fixture(addToTree: tree =>
        {
            if (target == "usr/etc")
            {
                Directory.Move(Path.Combine(tree, "etc"), Path.Combine(tree, "usr", "etc"));
            }
            else
            {
                Directory.Delete(Path.Combine(tree, "etc"), recursive: true);
            }

            File.CreateSymbolicLink(Path.Combine(tree, "etc"), target);
        });
        CollectionAssert.AreEqual(new[] { "OCIB1663" }, f.Publish(ImageOf(f), succeed: false));
        StringAssert.Contains(f.Engine.Errors.Single().Message, $"to '{target}'");
        Assert.IsFalse(Directory.Exists(Path.Combine(f.Bundle, "rootfs")), "nothing written");
    }

    [TestMethod]
    public void TheBasesHistoryWithEmptyLayerStepsLinesUpWithTheLayersAndItsStopSignalIsKept()
    {
        const string history = """[{"created":"2024-01-02T03:04:05Z","created_by":"ARG RELEASE","empty_layer":true},{"created":"2024-01-02T03:04:06Z","author":"base team","created_by":"ADD rootfs.tar /","comment":"buildkit"},{"created_by":"CMD [\"bash\"]","empty_layer":true}]""";
        using var f = new Fixture(containerConfig: """{"Env":["PATH=/usr/bin:/bin"],"StopSignal":"SIGQUIT","Volumes":{"/var/lib/seed":{}}}""", history: history);
        f.Publish(ImageOf(f));

        JObject manifest = BaseImageTests.Blob(ImageOf(f), BaseImageTests.ManifestDigest(ImageOf(f)));
        JObject config = BaseImageTests.Blob(ImageOf(f), (string)manifest["config"]!["digest"]!);
        var steps = (JArray)config["history"]!;
        Assert.IsTrue(JToken.DeepEquals(JArray.Parse(history), new JArray(steps.Take(3))), $"the base's steps as they are: {steps}");
        Assert.AreEqual(manifest["layers"]!.Count(), steps.Count(s => s["empty_layer"]?.Value<bool>() != true), "one step that made a layer per layer");
        Assert.AreEqual(config["rootfs"]!["diff_ids"]!.Count(), manifest["layers"]!.Count());
        Assert.AreEqual("SIGQUIT", (string?)config["config"]!["StopSignal"]);
        Assert.IsTrue(((JObject)config["config"]!["Volumes"]!).ContainsKey("/var/lib/seed"), "the base's volume over its own data is carried");
    }

    [TestMethod]
    public void HistoryThatDoesNotLineUpIsOneStepPerBaseLayer()
    {
        var empty = new OciHistory { CreatedBy = "ENV A=1", EmptyLayer = true };
        Assert.AreEqual(2, ImageConfigMerge.History(new[] { empty, new OciHistory { CreatedBy = "a" }, new OciHistory { CreatedBy = "b" } }, new[] { "1", "2" }).Count(h => h.EmptyLayer != true));
        CollectionAssert.AreEqual(new[] { "1", "2" }, ImageConfigMerge.History(new[] { empty }, new[] { "1", "2" }).Select(h => h.CreatedBy).ToArray());
        Assert.AreEqual(0, ImageConfigMerge.History(null, Array.Empty<string>()).Count);
        Assert.AreEqual("""{"created_by":"x"}""", System.Text.Encoding.UTF8.GetString(OciJson.Serialize(new OciHistory { CreatedBy = "x" })), "no field a product step lacks is written: images without a base keep their digest");
    }

    [TestMethod]
    [DataRow("/app", "OCIB1661")]
    [DataRow("/app/data", "OCIB1661")]
    [DataRow("/", "OCIB1661")]
    [DataRow("/etc", "OCIB1662")]
    [DataRow("/home", "OCIB1662")]
    [DataRow("/var/lib/seed", "")]
    [DataRow("/srv/data", "")]
    public void TheBasesVolumesAreCheckedAgainstTheAppAndTheProductsFiles(string volume, string code)
    {
        using var f = new Fixture(containerConfig: "{\"Volumes\":{\"" + volume + "\":{}}}");
        string[] codes = f.Publish(ImageOf(f), succeed: code.Length == 0);
        CollectionAssert.AreEqual(code.Length == 0 ? Array.Empty<string>() : new[] { code }, codes, string.Join("\n", f.Engine.Errors.Select(e => e.Message)));
        if (code.Length == 0)
        {
            JObject manifest = BaseImageTests.Blob(ImageOf(f), BaseImageTests.ManifestDigest(ImageOf(f)));
            JObject config = BaseImageTests.Blob(ImageOf(f), (string)manifest["config"]!["digest"]!);
            CollectionAssert.AreEqual(new[] { volume }, ((JObject)config["config"]!["Volumes"]!).Properties().Select(p => p.Name).ToArray());
        }
    }

    [TestMethod]
    public void TheBasesLayerBlobIsLinkedFromTheLastLayoutNotCopiedAgain()
    {
        using var f = new Fixture();
        f.Publish(ImageOf(f));
        JObject manifest = BaseImageTests.Blob(ImageOf(f), BaseImageTests.ManifestDigest(ImageOf(f)));
        string digest = (string)manifest["layers"]![0]!["digest"]!;
        string blob = Path.Combine(ImageOf(f), "blobs", "sha256", digest[7..]);
        ulong inode = Interop.NativeMethods.LStat(blob)!.Value.Inode;

        File.AppendAllText(Path.Combine(f.PublishDir, "Hello"), "# changed\n"); // the app changes: the image is written again
        f.Publish(ImageOf(f));
        Assert.AreEqual(digest, (string)BaseImageTests.Blob(ImageOf(f), BaseImageTests.ManifestDigest(ImageOf(f)))["layers"]![0]!["digest"]!);
        Assert.AreEqual(inode, Interop.NativeMethods.LStat(blob)!.Value.Inode, "the same file, hard-linked into the new layout");
        Assert.AreEqual(digest, OciLayoutMaker.DigestOfFile(blob));
        Assert.IsTrue(f.Engine.Messages.Any(m => m.Message!.Contains(digest, StringComparison.Ordinal) && m.Message.Contains("reused", StringComparison.Ordinal)), "the log says so");
    }
}
