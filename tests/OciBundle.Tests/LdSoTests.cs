using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Closure;
using OciBundle.Testing;
using OciBundle.Sysroots;

namespace OciBundle.Tests;

[TestClass]
public sealed class LdSoTests
{
    [TestMethod]
    public void ReadsThisMachinesCacheLikeLdconfig()
    {
        TestEnvironment.Require(File.Exists("/etc/ld.so.cache"), "/etc/ld.so.cache");
        LdSoCache cache = LdSoCache.Load("/etc/ld.so.cache");

        // ldconfig -p prints "	libc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6" for each entry.
        var expected = TestEnvironment.RunCapture("/sbin/ldconfig", "-p").Output.Split('\n')
            .Where(l => l.Contains(" => "))
            .Select(l => (Name: l.Trim().Split(' ')[0], Path: l[(l.IndexOf(" => ", StringComparison.Ordinal) + 4)..].Trim()))
            .ToList();
        Assert.IsTrue(expected.Count > 10, "ldconfig -p listed the cache");
        foreach ((string name, string path) in expected)
        {
            CollectionAssert.Contains(cache.Lookup(name).ToList(), path, $"{name} => {path}");
        }
    }

    [TestMethod]
    public void GarbageCacheIsEmptyNotACrash()
    {
        Assert.AreEqual(0, LdSoCache.Parse(new byte[] { 1, 2, 3 }).Names.Count());
        Assert.AreEqual(0, LdSoCache.Parse("glibc-ld.so.cache1.1"u8.ToArray()).Names.Count());
    }

    [TestMethod]
    public void ConfFollowsIncludeGlobsInOrder()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("etc", "ld.so.conf.d"));
        File.WriteAllText(root.Combine("etc", "ld.so.conf"), "# comment\n/opt/first\ninclude /etc/ld.so.conf.d/*.conf\n/opt/last:/opt/last2\n");
        File.WriteAllText(root.Combine("etc", "ld.so.conf.d", "b.conf"), "/opt/b\n");
        File.WriteAllText(root.Combine("etc", "ld.so.conf.d", "a.conf"), "/opt/a # trailing comment\ninclude nested.inc\n");
        File.WriteAllText(root.Combine("etc", "ld.so.conf.d", "nested.inc"), "/opt/nested\n");

        IReadOnlyList<string> dirs = LdSoConf.ReadDirectories(new SysrootView(root.Path));

        CollectionAssert.AreEqual(new[] { "/opt/first", "/opt/a", "/opt/nested", "/opt/b", "/opt/last", "/opt/last2" }, dirs.ToArray());
    }
}
