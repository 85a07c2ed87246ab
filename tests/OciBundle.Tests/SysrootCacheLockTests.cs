using System.Formats.Tar;
using System.Security.Cryptography;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Diagnostics;
using OciBundle.Model;
using OciBundle.Request;
using OciBundle.State;
using OciBundle.Sysroots;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// The sysroot cache's lock is the outputs' lock (<c>Storage/FileLock</c>): a lock file another user owns, or a link,
/// is refused with the cache's code before anything is unpacked, as an output folder's is.
/// </summary>
[TestClass]
public sealed class SysrootCacheLockTests
{
    private static (string Tar, string Cache, string LockFile, TempDirectory Dir) Setup()
    {
        var dir = new TempDirectory("ocibundle-sysroot-lock-");
        string tree = dir.Combine("tree");
        Directory.CreateDirectory(Path.Combine(tree, "etc"));
        File.WriteAllText(Path.Combine(tree, "etc", "os-release"), "ID=test\n");
        string tar = dir.Combine("sysroot.tar");
        TarFile.CreateFromDirectory(tree, tar, includeBaseDirectory: false);
        string cache = dir.Combine("cache");
        Directory.CreateDirectory(cache);
        string hex = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(tar))).ToLowerInvariant();
        return (tar, cache, Path.Combine(cache, $".{hex}.lock"), dir);
    }

    private static string Code(string tar, string cache, string root)
    {
        var errors = new ParseErrors();
        SysrootSpec spec = SysrootSpec.Parse(tar, null, cache, root, errors);
        Assert.AreEqual(0, errors.All.Count);
        try
        {
            SysrootStore.Materialize(spec, TargetArchitecture.Find("amd64", out _)!, new InputLedger(), _ => { });
            return "";
        }
        catch (OciBundleException e)
        {
            return e.Code;
        }
    }

    [TestMethod]
    public void ALockFileOfAnotherUserIsRefusedAndNothingIsUnpacked()
    {
        TestEnvironment.Require(Interop.NativeMethods.getuid() == 0, "giving a file to another user needs root");
        (string tar, string cache, string lockFile, TempDirectory dir) = Setup();
        using (dir)
        {
            File.WriteAllText(lockFile, "");
            Assert.AreEqual(0, Interop.NativeMethods.lchown(lockFile, 12345, 12345));
            Assert.AreEqual("OCIB1316", Code(tar, cache, dir.Path), "another user's lock file is never taken as ours");
            Assert.AreEqual(0, Directory.GetDirectories(cache).Length, "nothing unpacked");

            File.Delete(lockFile);
            Assert.AreEqual("", Code(tar, cache, dir.Path), "with the lock file gone, the same sysroot unpacks");
        }
    }

    [TestMethod]
    public void ALockFileThatIsALinkIsRefusedAndItsTargetLeftAlone()
    {
        (string tar, string cache, string lockFile, TempDirectory dir) = Setup();
        using (dir)
        {
            string target = dir.Combine("elsewhere");
            File.CreateSymbolicLink(lockFile, target);
            Assert.AreEqual("OCIB1316", Code(tar, cache, dir.Path));
            Assert.IsFalse(File.Exists(target), "the link's target is not created");
            Assert.AreEqual(0, Directory.GetDirectories(cache).Length, "nothing unpacked");
        }
    }
}
