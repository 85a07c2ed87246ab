using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>Issue 4: what the project file declares is what the process sees, as root and rootless.</summary>
[TestClass]
public sealed class SurfaceTests
{
    private const string Items = """
        <OciBundleAppArg Include="surface" />
        <OciBundleAppArg Include="two words" />
        <OciBundleAppArg Include="x" />
        <OciBundleEnvironmentVariable Include="GREETING" Value="hello world" />
        """;

    [TestMethod]
    public void DeclarationsArriveInTheContainerAndMistakesKeepThePreviousBundle()
    {
        Runc.RequireRoot();
        using var data = new TempDirectory();
        File.WriteAllText(data.Combine("message.txt"), "from the host\n");
        using TestProject project = TestProject.WithSdkElement(
            "Surface",
            "<OciBundleHostname>probe-host</OciBundleHostname><OciBundleReadOnly>true</OciBundleReadOnly>",
            Items + $"""<OciBundleMount Include="/data" Type="bind" Source="{data.Path}" Options="rbind;ro" />""");
        project.Publish("-p:PublishOciBundle=true");

        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        Assert.AreEqual(
            "uid: 1654\nnonewprivs: 1\nhostname: probe-host\ncwd: /app\ngreeting: hello world\nargs: two words | x\nmounted: from the host\nwrite /app: read-only\nwrite /tmp: ok\n",
            run.Output);

        // A misconfiguration: coded error naming the item, and the bundle stays byte for byte.
        string before = TreeFingerprint.Of(project.BundleDir);
        ProcessResult bad = project.Publish(false, "-p:PublishOciBundle=true", "-p:OciBundleUser=nobody");
        StringAssert.Contains(bad.Output, "error OCIB1041: OciBundleUser 'nobody'");
        Assert.AreEqual(before, TreeFingerprint.Of(project.BundleDir));
    }

    [TestMethod]
    public void RootlessBundleRunsAsAnUnprivilegedUser()
    {
        (uint uid, uint gid) = Runc.RequireRootlessUser();
        using TestProject project = TestProject.WithSdkElement("Rootless", "<OciBundleRootless>true</OciBundleRootless>", Items);
        Runc.OpenUpFor(project.Directory);
        project.Publish("-p:PublishOciBundle=true", $"-p:OciBundleHostUid={uid}", $"-p:OciBundleHostGid={gid}");

        ProcessResult run = Runc.RunRootless(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        Assert.AreEqual(
            "uid: 0\nnonewprivs: 1\nhostname: rootless\ncwd: /app\ngreeting: hello world\nargs: two words | x\nmounted: (none)\nwrite /app: ok\nwrite /tmp: ok\n",
            run.Output);
    }
}
