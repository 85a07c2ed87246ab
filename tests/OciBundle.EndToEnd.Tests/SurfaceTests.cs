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
        File.WriteAllText(data.Combine("settings.txt"), "copied in\n");
        using TestProject project = TestProject.WithSdkElement(
            "Surface",
            "<OciBundleHostname>probe-host</OciBundleHostname><OciBundleReadOnly>true</OciBundleReadOnly>",
            Items + $"""
                <OciBundleMount Include="/data" Type="bind" Source="{data.Path}" Options="rbind;ro" />
                <OciBundleFile Include="{data.Combine("settings.txt")}" TargetPath="/etc/probe/settings.txt" />
                """);
        project.Publish("-p:PublishOciBundle=true");

        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        Assert.AreEqual(
            "uid: 1654\nnonewprivs: 1\nhostname: probe-host\ncwd: /app\ngreeting: hello world\nargs: two words | x\nmounted: from the host\nfile: copied in\nwrite /app: read-only\nwrite /tmp: ok\n",
            run.Output);

        // A dozen misconfigurations: each its own code naming the property, and the bundle stays byte for byte.
        string before = TreeFingerprint.Of(project.BundleDir);
        var mistakes = new (string Property, string Code, string Named)[]
        {
            ("OciBundleUser=nobody", "OCIB1041", "OciBundleUser 'nobody'"),
            ("OciBundleUser=1:2:3", "OCIB1040", "OciBundleUser '1:2:3'"),
            ("OciBundleArch=sparc", "OCIB1004", "OciBundleArch 'sparc'"),
            ("OciBundleArch=arm64", "OCIB1006", "OciBundleArch 'arm64'"),
            ("OciBundleOS=windows", "OCIB1003", "OciBundleOS 'windows'"),
            ("OciBundleHostname=-bad-", "OCIB1050", "OciBundleHostname '-bad-'"),
            ("OciBundleSpecVersion=9.9.9", "OCIB1060", "OciBundleSpecVersion '9.9.9'"),
            ("OciBundleWorkingDirectory=app", "OCIB1070", "OciBundleWorkingDirectory 'app'"),
            ("OciBundleWorkingDirectory=/etc", "OCIB1071", "OciBundleWorkingDirectory '/etc'"),
            ($"OciBundleDir={project.Directory}/", "OCIB1080", "OciBundleDir"),
            ("OciBundleNetwork=bridge", "OCIB1110", "OciBundleNetwork 'bridge'"),
            ("OciBundleSysroot=/no/such/sysroot", "OCIB1100", "OciBundleSysroot '/no/such/sysroot'"),
            ("OciBundleHostUid=me", "OCIB1120", "OciBundleHostUid 'me'"),
            ("OciBundleCapabilities=CAP_TELEPORT", "OCIB1160", "OciBundleCapabilities names 'CAP_TELEPORT'"),
        };
        foreach ((string property, string code, string named) in mistakes)
        {
            ProcessResult bad = project.Publish(false, "-p:PublishOciBundle=true", "-p:" + property);
            Assert.AreNotEqual(0, bad.ExitCode, property);
            StringAssert.Contains(bad.Output, $"error {code}: ", property);
            StringAssert.Contains(bad.Output, named, property);
            Assert.IsFalse(bad.All.Contains("   at "), $"{property}: no stack trace");
            Assert.AreEqual(before, TreeFingerprint.Of(project.BundleDir), $"{property}: the bundle changed");
            Assert.IsTrue(File.Exists(Path.Combine(project.Directory, "Surface.csproj")), $"{property}: the project folder is intact");
        }
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
            "uid: 0\nnonewprivs: 1\nhostname: rootless\ncwd: /app\ngreeting: hello world\nargs: two words | x\nmounted: (none)\nfile: (none)\nwrite /app: ok\nwrite /tmp: ok\n",
            run.Output);
    }
}
