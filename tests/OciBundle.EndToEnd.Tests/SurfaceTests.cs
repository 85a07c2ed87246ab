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
    public void DeclarationsArriveInTheContainer()
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
        BundleInvariant.AssertNoHostUserCanReplaceIt(project.BundleDir, rootlessHostUid: uid);
        Assert.AreEqual(
            "uid: 0\nnonewprivs: 1\nhostname: rootless\ncwd: /app\ngreeting: hello world\nargs: two words | x\nmounted: (none)\nfile: (none)\nwrite /app: read-only\nwrite /tmp: ok\n",
            run.Output);
    }
}

/// <summary>
/// Each misconfiguration, one scenario each: its own code naming the property, and the previous bundle stays byte for
/// byte. The project is published (and so restored) once; the failing publishes skip restore (--no-restore), which
/// none of these properties reaches, and which took a third of each.
/// </summary>
[TestClass]
public sealed class MisconfigurationTests
{
    private static TestProject? _project;
    private static string _before = "";

    [ClassInitialize]
    public static void PublishOnce(TestContext _)
    {
        _project = TestProject.WithSdkElement("Mistakes", program: "Console.WriteLine(\"fine\");");
        _project.Publish("-p:PublishOciBundle=true");
        _before = TreeFingerprint.Of(_project.BundleDir);
    }

    [ClassCleanup]
    public static void Cleanup() => _project?.Dispose();

    [TestMethod]
    [DataRow("OciBundleUser=nobody", "OCIB1041", "OciBundleUser 'nobody'")]
    [DataRow("OciBundleUser=1:2:3", "OCIB1040", "OciBundleUser '1:2:3'")]
    [DataRow("OciBundleUser=4294967295", "OCIB1043", "OciBundleUser '4294967295'")]
    [DataRow("OciBundleArch=sparc", "OCIB1004", "OciBundleArch 'sparc'")]
    [DataRow("OciBundleArch=arm64", "OCIB1006", "OciBundleArch 'arm64'")]
    [DataRow("OciBundleOS=windows", "OCIB1003", "OciBundleOS 'windows'")]
    [DataRow("OciBundleHostname=-bad-", "OCIB1050", "OciBundleHostname '-bad-'")]
    [DataRow("OciBundleSpecVersion=9.9.9", "OCIB1060", "OciBundleSpecVersion '9.9.9'")]
    [DataRow("OciBundleWorkingDirectory=app", "OCIB1070", "OciBundleWorkingDirectory 'app'")]
    [DataRow("OciBundleWorkingDirectory=/etc", "OCIB1071", "OciBundleWorkingDirectory '/etc'")]
    [DataRow("OciBundleWorkingDirectory=/proc/app", "OCIB1071", "OciBundleWorkingDirectory '/proc/app'")]
    [DataRow("OciBundleDir=/", "OCIB1080", "OciBundleDir '/'")]
    [DataRow("OciBundleNetwork=bridge", "OCIB1110", "OciBundleNetwork 'bridge'")]
    [DataRow("OciBundleSysroot=/no/such/sysroot", "OCIB1100", "OciBundleSysroot '/no/such/sysroot'")]
    [DataRow("OciBundleHostUid=me", "OCIB1120", "OciBundleHostUid 'me'")]
    [DataRow("OciBundleCapabilities=CAP_TELEPORT", "OCIB1160", "OciBundleCapabilities names 'CAP_TELEPORT'")]
    [DataRow("OciBundleCapabilities=none%3BCAP_KILL", "OCIB1161", "OciBundleCapabilities is contradictory")]
    [DataRow("OciBundleSeccomp=no-such-profile.json", "OCIB1170", "no-such-profile.json', which is neither 'default'")]
    [DataRow("OciBundleSeccomp=Program.cs", "OCIB1171", "Program.cs' (OciBundleSeccomp) cannot be used")]
    [DataRow("OciBundleMaskedPaths=proc/kcore", "OCIB1180", "OciBundleMaskedPaths 'proc/kcore'")]
    [DataRow("OciBundleReadOnly=maybe", "OCIB1200", "OciBundleReadOnly is 'maybe'")]
    [DataRow("OciBundleIncludeTimeZoneData=no", "OCIB1200", "OciBundleIncludeTimeZoneData is 'no'")]
    [DataRow("PublishOciImage=yes", "OCIB1200", "PublishOciImage is 'yes'")]
    public void AMisconfigurationGivesItsCodeAndKeepsTheBundle(string property, string code, string named)
    {
        ProcessResult bad = _project!.Publish(false, "--no-restore", "-p:PublishOciBundle=true", "-p:" + property);

        Assert.AreNotEqual(0, bad.ExitCode, property);
        StringAssert.Contains(bad.Output, $"error {code}: ", bad.Output);
        StringAssert.Contains(bad.Output, named, bad.Output);
        Assert.IsFalse(bad.All.Contains("   at "), "no stack trace");
        Assert.AreEqual(_before, TreeFingerprint.Of(_project.BundleDir), "the bundle is byte for byte the previous one");
        Assert.IsTrue(File.Exists(Path.Combine(_project.Directory, "Mistakes.csproj")), "the project folder is intact");
    }

    [TestMethod]
    public void ARiskySettingWhoseWarningIsAnErrorWritesNothing()
    {
        ProcessResult bad = _project!.Publish(false, "--no-restore", "-p:PublishOciBundle=true", "-p:OciBundleNoNewPrivileges=false", "-p:WarningsAsErrors=OCIB3012");
        Assert.AreNotEqual(0, bad.ExitCode, bad.Output);
        StringAssert.Contains(bad.Output, "error OCIB3012: ", bad.Output);
        Assert.AreEqual(_before, TreeFingerprint.Of(_project.BundleDir), "a CI gate on the warning gets no risky bundle");
        Assert.IsFalse(bad.Output.Contains("up to date", StringComparison.Ordinal), bad.Output);
    }

    [TestMethod]
    public void TheProjectFolderAsOciBundleDirIsRefused()
    {
        ProcessResult bad = _project!.Publish(false, "--no-restore", "-p:PublishOciBundle=true", $"-p:OciBundleDir={_project.Directory}/");
        StringAssert.Contains(bad.Output, "error OCIB1080: OciBundleDir", bad.Output);
        Assert.AreEqual(_before, TreeFingerprint.Of(_project.BundleDir));
        Assert.IsTrue(File.Exists(Path.Combine(_project.Directory, "Program.cs")), "the project folder is intact");
    }
}
