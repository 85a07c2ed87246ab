using System.Text;
using Microsoft.Build.Framework;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Model;
using OciBundle.Planning;
using OciBundle.Rootfs;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>Issue 29: provenance.json is the same bytes for two builds of one commit, wherever the checkout and the caches are.</summary>
[TestClass]
public sealed class ProvenancePathTests
{
    private static PortablePaths Paths(string project, string nuget = "/home/u/.nuget/packages", string cache = "/home/u/.ocibundle/sysroots", string dotnet = "/usr/share/dotnet") =>
        new(project, new[] { ("$(NuGetPackageRoot)", (string?)nuget), ("$(OciBundleSysrootCache)", cache), ("$(NetCoreRoot)", dotnet) });

    [TestMethod]
    public void PathsAreRelativeToTheProjectOrNamedByTheirRootsProperty()
    {
        PortablePaths paths = Paths("/src/a/app");
        Assert.AreEqual("bin/Release/net10.0/linux-x64/publish/app.dll", paths.Of("/src/a/app/bin/Release/net10.0/linux-x64/publish/app.dll"));
        Assert.AreEqual("native/libfoo.so", paths.Of("/src/a/app/native/libfoo.so"));
        Assert.AreEqual(".", paths.Of("/src/a/app"));
        Assert.AreEqual("$(NuGetPackageRoot)/foo/1.0.0/tools/x", paths.Of("/home/u/.nuget/packages/foo/1.0.0/tools/x"));
        Assert.AreEqual("$(OciBundleSysrootCache)/abc/rootfs/usr/lib/x86_64-linux-gnu/libc.so.6", paths.Of("/home/u/.ocibundle/sysroots/abc/rootfs/usr/lib/x86_64-linux-gnu/libc.so.6"));
        Assert.AreEqual("$(NetCoreRoot)/shared/Microsoft.NETCore.App/10.0.0/libcoreclr.so", paths.Of("/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.0/libcoreclr.so"));
        Assert.AreEqual("/usr/lib/x86_64-linux-gnu/libc.so.6", paths.Of("/usr/lib/x86_64-linux-gnu/libc.so.6"), "the build machine's own root: the same path everywhere");
        Assert.AreEqual("/src/a/application/x", paths.Of("/src/a/application/x"), "a sibling folder whose name starts like the project's is not in it");
        Assert.AreEqual("/srv/sysroots/x.tar", paths.Of("/srv/sysroots/x.tar"));

        // The deepest root names a path: a NuGet folder inside the project (RestorePackagesPath=packages) is still $(NuGetPackageRoot).
        PortablePaths nested = Paths("/src/a/app", nuget: "/src/a/app/packages");
        Assert.AreEqual("$(NuGetPackageRoot)/foo/1.0.0/x", nested.Of("/src/a/app/packages/foo/1.0.0/x"));
        Assert.AreEqual("packagesx/y", nested.Of("/src/a/app/packagesx/y"));

        // No root is ever '/', and a relative or missing root is ignored: paths stay as they are.
        PortablePaths none = new(null, new[] { ("$(NetCoreRoot)", (string?)"/"), ("$(NuGetPackageRoot)", "relative/packages"), ("$(OciBundleSysrootCache)", null) });
        Assert.AreEqual("/usr/lib/libc.so.6", none.Of("/usr/lib/libc.so.6"));
        StringAssert.Contains(Paths("/src/a/app").Describe(), "$(NuGetPackageRoot) = /home/u/.nuget/packages");
        StringAssert.Contains(Paths("/src/a/app").Describe(), "relative paths = /src/a/app");
    }

    [TestMethod]
    public void TwoCheckoutsAndTwoUsersWriteTheSameProvenance()
    {
        byte[] Report(string project, string home)
        {
            var plan = new RootfsPlan();
            plan.AddFile("/app/app.dll", project + "/bin/Release/net10.0/linux-x64/publish/app.dll", (UnixFileMode)0b111_100_100, 10, "publish output");
            plan.AddFile("/usr/lib/x86_64-linux-gnu/libc.so.6", home + "/.ocibundle/sysroots/abc/rootfs/usr/lib/x86_64-linux-gnu/libc.so.6", (UnixFileMode)0b110_000_000, 20, "DT_NEEDED libc.so.6 of /app/app");
            plan.AddFile("/opt/tool", home + "/.nuget/packages/tool/1.0.0/tools/tool", (UnixFileMode)0b110_100_100, 30, "OciBundleFile $(NuGetPackageRoot)/tool/1.0.0/tools/tool");
            var sysroot = new Sysroots.MaterializedSysroot(home + "/.ocibundle/sysroots/abc/rootfs", "sha256:abc", project + "/sysroots/debian.tar", "tarball");
            return ProvenanceReport.Write(plan.Seal(), Array.Empty<string>(), sysroot, Paths(project, home + "/.nuget/packages", home + "/.ocibundle/sysroots"));
        }

        byte[] a = Report("/src/a/app", "/root");
        byte[] b = Report("/home/dev/some/longer/path/app", "/home/dev");
        Assert.AreEqual(Encoding.UTF8.GetString(a), Encoding.UTF8.GetString(b));
        JObject report = JObject.Parse(Encoding.UTF8.GetString(a));
        Assert.AreEqual("sysroots/debian.tar", (string?)report["sysroot"]!["source"]);
        Assert.AreEqual("$(OciBundleSysrootCache)/abc/rootfs", (string?)report["sysroot"]!["root"]);
        CollectionAssert.AreEqual(
            new[] { "bin/Release/net10.0/linux-x64/publish/app.dll", "$(NuGetPackageRoot)/tool/1.0.0/tools/tool", "$(OciBundleSysrootCache)/abc/rootfs/usr/lib/x86_64-linux-gnu/libc.so.6" },
            report["files"]!.Where(f => f["source"] is not null).Select(f => (string)f["source"]!).ToArray());
    }

    [TestMethod]
    public void ThePublishWritesRelativeSourcesAndLogsTheRootsAtDetailedVerbosity()
    {
        using var f = new SafetyTests.Fixture();
        f.Publish();
        JObject report = JObject.Parse(File.ReadAllText(Path.Combine(f.Bundle, "provenance.json")));
        string source = (string)report["files"]!.Single(e => (string?)e["path"] == "/app/libSystem.Native.so")["source"]!;
        Assert.AreEqual("bin/publish/libSystem.Native.so", source, "relative to the project");
        Assert.IsFalse(File.ReadAllText(Path.Combine(f.Bundle, "provenance.json")).Contains(Path.Combine(f.Root, "proj"), StringComparison.Ordinal), "no absolute path of the project's checkout");
        BuildMessageEventArgs roots = f.Engine.Messages.Single(m => m.Message!.StartsWith("provenance.json names host paths", StringComparison.Ordinal));
        Assert.AreEqual(MessageImportance.Low, roots.Importance);
        StringAssert.Contains(roots.Message, "relative paths = " + Path.Combine(f.Root, "proj"));
    }
}
