using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Planning;
using OciBundle.Request;
using OciBundle.Rootfs;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// <c>OciBundleVolume</c>: the parse (each mistake its code), the plan (the folder the app user's, nothing under it,
/// config.json's bind and the image's <c>Volumes</c>), and the host folders (made beside the bundle, given to the app's
/// host user, never a link, a warning when the app could not write one).
/// </summary>
[TestClass]
public sealed class VolumeSpecTests
{
    private static TempDirectory _dir = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _dir = new TempDirectory();
        Directory.CreateDirectory(_dir.Combine("proj", "bin", "publish"));
        Directory.CreateDirectory(_dir.Combine("proj", "obj"));
        File.WriteAllText(_dir.Combine("proj", "bin", "publish", "Hello"), "#!/bin/sh\n"); // an app host (not ELF: no closure needed)
        File.SetUnixFileMode(_dir.Combine("proj", "bin", "publish", "Hello"), (UnixFileMode)0b111_101_101);
        File.WriteAllText(_dir.Combine("a-file"), "not a folder\n");
        Directory.CreateDirectory(_dir.Combine("srv", "data"));
    }

    [ClassCleanup]
    public static void Cleanup() => _dir.Dispose();

    private static BundleOptions Valid(string bundle = "oci-bundle", params (string Path, string? Source)[] volumes)
    {
        BundleOptions options = TargetDefaults.Options(_dir.Combine("proj", "bin", "publish"), _dir.Combine("proj", "bin", bundle), "Hello", "Hello");
        options.ProjectDirectory = _dir.Combine("proj");
        options.RuntimeIdentifier = "linux-x64";
        options.Sbom = false;
        options.ProtectedDirectories = new List<string> { _dir.Combine("proj", "obj") };
        foreach ((string path, string? source) in volumes)
        {
            options.Volumes.Add(new VolumeOption { Path = path, Source = source });
        }

        return options;
    }

    private static List<string> Codes(BundleOptions options)
    {
        try
        {
            BundleRequest.Parse(options);
            return new List<string>();
        }
        catch (BundleValidationException e)
        {
            return e.Errors.Select(x => x.Code).ToList();
        }
    }

    [TestMethod]
    [DataRow("OCIB1602", "data")]
    [DataRow("OCIB1602", "")]
    [DataRow("OCIB1603", "/data/../app")]
    [DataRow("OCIB1603", "/da\u0001ta")]
    [DataRow("OCIB1604", "/")]
    [DataRow("OCIB1604", "//")]
    [DataRow("OCIB1604", "/proc/data")]
    [DataRow("OCIB1604", "/dev")]
    [DataRow("OCIB1604", "/sys/x")]
    [DataRow("OCIB1604", "/tmp/data")]
    [DataRow("OCIB1604", "/etc")]
    [DataRow("OCIB1604", "/usr")]
    [DataRow("OCIB1604", "/var")]
    [DataRow("OCIB1501", "/home/app/data")]
    [DataRow("OCIB1605", "/app")]
    [DataRow("OCIB1605", "/app/data")]
    [DataRow("OCIB1605", "/app/")]
    public void AWrongVolumePathIsItsOwnCode(string code, string path)
    {
        CollectionAssert.AreEqual(new[] { code }, Codes(Valid(volumes: (path, null))), path);
    }

    [TestMethod]
    public void AVolumeAboveTheAppFolderOrAnOciBundleFileIsOCIB1605()
    {
        BundleOptions options = Valid(volumes: ("/srv", null));
        options.WorkingDirectory = "/srv/app";
        CollectionAssert.AreEqual(new[] { "OCIB1605" }, Codes(options));

        options = Valid(volumes: ("/opt/tool", null));
        options.Files.Add(new FileOption { Source = _dir.Combine("a-file"), TargetPath = "/opt/tool/a-file" });
        CollectionAssert.AreEqual(new[] { "OCIB1605" }, Codes(options));
    }

    [TestMethod]
    public void DuplicateAndNestedVolumesAreOCIB1606AndMountsOverlappingOneOCIB1607()
    {
        CollectionAssert.AreEqual(new[] { "OCIB1606" }, Codes(Valid(volumes: new[] { ("/data", (string?)null), ("/data/", null) })));
        CollectionAssert.AreEqual(new[] { "OCIB1606" }, Codes(Valid(volumes: new[] { ("/data", (string?)null), ("/data/logs", null) })));
        CollectionAssert.AreEqual(new[] { "OCIB1606" }, Codes(Valid(volumes: new[] { ("/data/logs", (string?)null), ("/data", null) })));
        CollectionAssert.AreEqual(new string[0], Codes(Valid(volumes: new[] { ("/data", (string?)null), ("/data2", null) })), "a name sharing a prefix is apart");

        foreach (string mount in new[] { "/data", "/data/cache", "/srv" })
        {
            BundleOptions options = Valid(volumes: mount == "/srv" ? ("/srv/data", null) : ("/data", null));
            options.Mounts.Add(new MountOption { Destination = mount, Type = "tmpfs" });
            CollectionAssert.AreEqual(new[] { "OCIB1607" }, Codes(options), mount);
        }
    }

    [TestMethod]
    public void ASourceIsAnAbsoluteFolderApartFromTheOutputsTheProjectAndTheSystem()
    {
        Assert.AreEqual("OCIB1608", Codes(Valid(volumes: ("/data", "relative/data"))).Single());
        Assert.AreEqual("OCIB1608", Codes(Valid(volumes: ("/data", "/srv/../etc"))).Single());
        Assert.AreEqual("OCIB1608", Codes(Valid(volumes: ("/data", "/srv/da\nta"))).Single());
        Assert.AreEqual("OCIB1609", Codes(Valid(volumes: ("/data", _dir.Combine("a-file")))).Single());
        foreach (string unsafeSource in new[] { "/", "/etc", "/usr/lib", _dir.Combine("proj", "bin", "oci-bundle", "data"), _dir.Combine("proj", "bin", "publish", "data"), _dir.Combine("proj"), _dir.Path })
        {
            Assert.AreEqual("OCIB1610", Codes(Valid(volumes: ("/data", unsafeSource))).SingleOrDefault(), unsafeSource);
        }

        BundleRequest request = BundleRequest.Parse(Valid(volumes: ("/data", _dir.Combine("srv", "data") + "/")));
        Assert.AreEqual(new VolumeSpec("/data", _dir.Combine("srv", "data"), _dir.Combine("srv", "data"), true), request.Volumes.Single());
    }

    [TestMethod]
    public void TheDefaultHostFolderIsBesideTheBundleAndNamedRelativeToItInConfigJson()
    {
        BundleRequest request = BundleRequest.Parse(Valid(volumes: ("/var/lib/myapp/", null)));
        Assert.AreEqual(new VolumeSpec("/var/lib/myapp", _dir.Combine("proj", "bin", "oci-bundle.volumes", "var", "lib", "myapp"), "../oci-bundle.volumes/var/lib/myapp", false), request.Volumes.Single());

        BundleLayout layout = BundlePlanner.Plan(request, _ => { });
        JObject config = JObject.Parse(System.Text.Encoding.UTF8.GetString(layout.Config));
        Assert.AreEqual(
            """{"destination":"/var/lib/myapp","type":"bind","source":"../oci-bundle.volumes/var/lib/myapp","options":["rbind","rw","nosuid","nodev"]}""",
            config["mounts"]!.Last!.ToString(Newtonsoft.Json.Formatting.None));
        Assert.IsTrue(layout.Plan.TryGet("/var/lib/myapp", out Model.RootfsEntry folder));
        Assert.AreEqual((1654, null), (folder.OwnerId, folder.GroupId), "the app user's folder, as the image holds it");
        Assert.IsTrue(layout.Plan.TryGet("/var/lib", out Model.RootfsEntry parent) && parent.OwnerId is null, "its parents are root's");
    }

    [TestMethod]
    public void TheSameInputsGiveTheSameConfigJsonWhereverTheProjectIs()
    {
        byte[] a = BundlePlanner.Plan(BundleRequest.Parse(Valid(volumes: ("/data", null))), _ => { }).Config;
        byte[] b = BundlePlanner.Plan(BundleRequest.Parse(Valid(volumes: ("/data", null))), _ => { }).Config;
        CollectionAssert.AreEqual(a, b);

        using var elsewhere = new TempDirectory();
        BundleOptions moved = Valid(volumes: ("/data", null));
        moved.BundleDirectory = elsewhere.Combine("out", "oci-bundle");
        CollectionAssert.AreEqual(a, BundlePlanner.Plan(BundleRequest.Parse(moved), _ => { }).Config, "the bind's source is relative to the bundle");
    }

    [TestMethod]
    public void AUserAndGroupOfTheirOwnOwnTheVolumeAndARootlessBundlesIsContainerRoots()
    {
        BundleOptions options = Valid(volumes: ("/data", null));
        options.User = "1000:2000";
        Assert.IsTrue(BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }).Plan.TryGet("/data", out Model.RootfsEntry folder));
        Assert.AreEqual((1000, 2000), (folder.OwnerId, folder.GroupId));

        options = Valid(volumes: ("/data", null));
        options.Rootless = true;
        options.User = "0";
        options.HostUid = "1001";
        options.HostGid = "1001";
        Assert.IsTrue(BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }).Plan.TryGet("/data", out folder));
        Assert.AreEqual((null, null), (folder.OwnerId, folder.GroupId));
    }

    [TestMethod]
    public void AVolumeOverAPlannedFileIsOCIB1613AndOneOverPlannedFilesOCIB1612()
    {
        var e = Assert.ThrowsExactly<OciBundleException>(() => BundlePlanner.Plan(BundleRequest.Parse(Valid(volumes: ("/etc/passwd/data", null))), _ => { }));
        Assert.AreEqual("OCIB1613", e.Code, e.Message);
        StringAssert.Contains(e.Message, "'/etc/passwd'");

        // A file planned under the volume by no setting of the volume's own: the SBOM's folder.
        BundleOptions options = Valid(volumes: ("/usr/share/sbom", null));
        options.Sbom = true;
        e = Assert.ThrowsExactly<OciBundleException>(() => BundlePlanner.Plan(BundleRequest.Parse(options), _ => { }));
        Assert.AreEqual("OCIB1612", e.Code, e.Message);
    }

    [TestMethod]
    public void ThePublishMakesTheFolderBesideTheBundleForTheAppUserAndKeepsWhatIsThere()
    {
        using var work = new TempDirectory();
        BundleOptions options = Valid(volumes: ("/var/lib/myapp", null));
        options.BundleDirectory = work.Combine("oci-bundle");
        BundleRequest request = BundleRequest.Parse(options);
        var warnings = new List<OciBundleException>();
        VolumeFolders.Prepare(request, _ => { }, warnings.Add);

        string folder = work.Combine("oci-bundle.volumes", "var", "lib", "myapp");
        var st = NativeMethods.LStat(folder)!.Value;
        if (NativeMethods.getuid() == 0)
        {
            Assert.AreEqual((1654u, 1654u), (st.Uid, st.Gid), "given to the app user");
            Assert.AreEqual(0, warnings.Count, string.Join("\n", warnings.Select(w => w.Message)));
        }
        else
        {
            Assert.AreEqual("OCIB1611", warnings.Single().Code, "a build not run as root says how to give it away");
        }

        Assert.AreEqual(NativeMethods.getuid(), NativeMethods.LStat(work.Combine("oci-bundle.volumes", "var"))!.Value.Uid, "the folders on the way are the builder's");
        File.WriteAllText(Path.Combine(folder, "count.txt"), "3");
        VolumeFolders.Prepare(request, _ => { }, _ => { });
        Assert.AreEqual("3", File.ReadAllText(Path.Combine(folder, "count.txt")), "what the app wrote is kept");
    }

    [TestMethod]
    public void ALinkOrAForeignFolderOnTheWayIsOCIB1614AndASourceTheAppCannotWriteOCIB1611()
    {
        using var work = new TempDirectory();
        Directory.CreateDirectory(work.Combine("elsewhere"));
        File.CreateSymbolicLink(work.Combine("oci-bundle.volumes"), work.Combine("elsewhere"));
        BundleOptions options = Valid(volumes: ("/data", null));
        options.BundleDirectory = work.Combine("oci-bundle");
        var e = Assert.ThrowsExactly<OciBundleException>(() => VolumeFolders.Prepare(BundleRequest.Parse(options), _ => { }, _ => { }));
        Assert.AreEqual("OCIB1614", e.Code, e.Message);
        Assert.IsFalse(Directory.Exists(work.Combine("elsewhere", "data")), "nothing made through the link");

        File.Delete(work.Combine("oci-bundle.volumes"));
        Directory.CreateDirectory(work.Combine("oci-bundle.volumes"));
        File.SetUnixFileMode(work.Combine("oci-bundle.volumes"), (UnixFileMode)0b111_111_111);
        e = Assert.ThrowsExactly<OciBundleException>(() => VolumeFolders.Prepare(BundleRequest.Parse(options), _ => { }, _ => { }));
        Assert.AreEqual("OCIB1614", e.Code, e.Message);
        StringAssert.Contains(e.Message, "group or others");

        // A Source of the user's, root's and 0755: uid 1654 cannot write it; the warning names the chown to run.
        Directory.CreateDirectory(work.Combine("source"));
        File.SetUnixFileMode(work.Combine("source"), (UnixFileMode)0b111_101_101);
        options = Valid(volumes: ("/data", work.Combine("source")));
        options.BundleDirectory = work.Combine("oci-bundle");
        var warnings = new List<OciBundleException>();
        VolumeFolders.Prepare(BundleRequest.Parse(options), _ => { }, warnings.Add);
        Assert.AreEqual("OCIB1611", warnings.Single().Code);
        StringAssert.Contains(warnings.Single().Message, $"sudo chown 1654:1654 '{work.Combine("source")}'");
    }
}
