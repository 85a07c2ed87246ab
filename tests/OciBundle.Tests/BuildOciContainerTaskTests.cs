using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Tasks;
using OciBundle.Testing;

namespace OciBundle.Tests;

[TestClass]
public sealed class BuildOciContainerTaskTests
{
    [TestMethod]
    public void MisconfigurationsAreLoggedWithTheirCodesNeverThrown()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("publish"));
        var engine = new FakeBuildEngine();
        var task = TargetDefaults.Apply(new BuildOciContainer
        {
            BuildEngine = engine,
            PublishDirectory = dir.Combine("publish"),
            BundleDirectory = dir.Combine("bundle"),
            AppName = "Hello",
            Mounts = new ITaskItem[] { new TaskItem("relative", new Dictionary<string, string> { ["Type"] = "tmpfs" }) },
            EnvironmentVariables = new ITaskItem[] { new TaskItem("1BAD", new Dictionary<string, string> { ["Value"] = "x" }) },
            User = "not a user",
        });

        Assert.IsFalse(task.Execute());
        CollectionAssert.AreEquivalent(new[] { "OCIB1020", "OCIB1030", "OCIB1040" }, engine.Errors.Select(e => e.Code).ToList());
        Assert.IsTrue(engine.Errors.All(e => !e.Message!.Contains("   at ")), "no stack trace");
        Assert.IsFalse(Directory.Exists(dir.Combine("bundle")), "nothing written");
    }

    [TestMethod]
    public void ABadPushTagIsFoundWithTheOtherOptionsBeforeAnythingIsWritten()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("publish"));
        var engine = new FakeBuildEngine();
        var task = TargetDefaults.Apply(new BuildOciContainer
        {
            BuildEngine = engine,
            PublishDirectory = dir.Combine("publish"),
            BundleDirectory = dir.Combine("bundle"),
            ImageDirectory = dir.Combine("image"),
            AppName = "Hello",
            ImageRegistry = "127.0.0.1:5000",
            ImageTags = "1.0;-bad",
        });

        Assert.IsFalse(task.Execute());
        CollectionAssert.AreEqual(new[] { "OCIB1402" }, engine.Errors.Select(e => e.Code).ToList(), string.Join("\n", engine.Errors.Select(e => e.Message)));
        StringAssert.Contains(engine.Errors[0].Message, "OciImageTags names '-bad'");
        Assert.IsFalse(Directory.Exists(dir.Combine("bundle")) || Directory.Exists(dir.Combine("image")), "nothing written");
    }

    [TestMethod]
    public void UnexpectedFailuresBecomeACodedErrorWithoutAStackTrace()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("publish"));
        File.WriteAllText(dir.Combine("publish", "Hello.runtimeconfig.json"), "{ not json");
        var engine = new FakeBuildEngine();
        var task = TargetDefaults.Apply(new BuildOciContainer { BuildEngine = engine, PublishDirectory = dir.Combine("publish"), BundleDirectory = dir.Combine("bundle"), AppName = "Hello" });

        Assert.IsFalse(task.Execute());
        Assert.AreEqual("OCIB2014", engine.Errors.Single().Code);
        Assert.IsFalse(engine.Errors.Single().Message!.Contains("   at "));
    }

    [TestMethod]
    public void AnImageOnlyPublishRecordsTheHostFilesItWasMadeFrom()
    {
        string shim = Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "libSystem.Native.so");
        TestEnvironment.Require(File.Exists(shim), "libSystem.Native.so in the .NET running the tests");
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("publish"));
        File.Copy(shim, dir.Combine("publish", "libSystem.Native.so"));
        File.WriteAllText(dir.Combine("publish", "Hello"), "#!/bin/sh\n");
        File.SetUnixFileMode(dir.Combine("publish", "Hello"), (UnixFileMode)0b111_101_101); // an app host runc can execute
        var engine = new FakeBuildEngine();
        var task = TargetDefaults.Apply(new BuildOciContainer
        {
            BuildEngine = engine,
            PublishDirectory = dir.Combine("publish"),
            BundleDirectory = dir.Combine("bundle"),
            AppName = "Hello",
            AppHost = "Hello",
            WriteBundle = false,
            ImageDirectory = dir.Combine("image"),
            StateFile = dir.Combine("obj", "state.json"),
        });

        Assert.IsTrue(task.Execute(), string.Join("\n", engine.Errors.Select(e => e.Message)));
        string state = File.ReadAllText(dir.Combine("obj", "state.json"));
        StringAssert.Contains(state, "/libc.so.6\t", "the closure's libc is an input");
        StringAssert.Contains(state, "input\tlist " + dir.Combine("publish") + "\t", "the publish folder's listing is an input");
        Assert.IsFalse(Directory.Exists(dir.Combine("bundle")));
        Assert.IsTrue(File.Exists(dir.Combine("image", "index.json")));
    }

    [TestMethod]
    public void ARuntimeIdentifierListedTwiceInOciImageRuntimeIdentifiersIsOCIB1404BeforeAnyPublish()
    {
        var engine = new FakeBuildEngine();
        Assert.IsFalse(new CheckOciBundleProject { BuildEngine = engine, RuntimeIdentifier = "linux-x64", OutputType = "Exe", ImageRuntimeIdentifiers = "linux-x64; linux-arm64;LINUX-X64" }.Execute());
        CollectionAssert.AreEqual(new[] { "OCIB1404" }, engine.Errors.Select(e => e.Code).ToArray());
        StringAssert.Contains(engine.Errors[0].Message, "OciImageRuntimeIdentifiers lists linux-x64 more than once");
        Assert.IsTrue(new CheckOciBundleProject { BuildEngine = new FakeBuildEngine(), RuntimeIdentifier = "linux-x64", OutputType = "Exe", ImageRuntimeIdentifiers = "linux-x64;linux-arm64" }.Execute());
    }

    [TestMethod]
    [DataRow("win-x64", "Exe", "OCIB1001")]
    [DataRow("linux-x64", "Library", "OCIB1002")]
    [DataRow("osx-arm64", "Library", "OCIB1001,OCIB1002")]
    public void ProjectChecksReportCodes(string rid, string outputType, string codes)
    {
        var engine = new FakeBuildEngine();
        Assert.IsFalse(new CheckOciBundleProject { BuildEngine = engine, RuntimeIdentifier = rid, OutputType = outputType }.Execute());
        CollectionAssert.AreEqual(codes.Split(','), engine.Errors.Select(e => e.Code).ToArray());
    }
}

[TestClass]
public sealed class FindOciRuntimeTests
{
    [TestMethod]
    public void AMissingRuntimeIsOCIB4001WithTheInstallCommand()
    {
        var engine = new FakeBuildEngine();
        Assert.IsFalse(new FindOciRuntime { BuildEngine = engine, Runtime = "no-such-runtime-xyz", BundleDirectory = "/tmp/b" }.Execute());
        Assert.AreEqual("OCIB4001", engine.Errors.Single().Code);
        StringAssert.Contains(engine.Errors.Single().Message, "sudo apt-get install runc");
    }

    [TestMethod]
    public void RuncIsFoundWhereDebianPutsIt()
    {
        TestEnvironment.Require(File.Exists("/usr/sbin/runc"), "runc from Debian");
        var task = new FindOciRuntime { BuildEngine = new FakeBuildEngine(), BundleDirectory = "/tmp/b" };
        Assert.IsTrue(task.Execute());
        Assert.AreEqual("/usr/sbin/runc", task.RuntimePath);
    }
}
