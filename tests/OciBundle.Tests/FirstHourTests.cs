using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Diagnostics;
using OciBundle.Engines;
using OciBundle.Tasks;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>Issue 28: what a newcomer meets in the first hour, at the level of the engine and the tasks.</summary>
[TestClass]
public sealed class FirstHourTests
{
    [TestMethod]
    [DataRow("nerdctl", null, "OCIB1600")]
    [DataRow("Podman", null, "OCIB1600")]
    [DataRow("podman", "linux-x64;linux-arm64", "OCIB1601")]
    public void AnImageLoadThatCannotBeIsACodedErrorBeforeTheEngineIsAsked(string engine, string? rids, string code)
    {
        // An empty PATH: had the check reached the engine, it would be OCIB4002.
        var e = Assert.ThrowsExactly<OciBundleException>(() => ImageLoader.Check(engine, rids, "", "/tmp/layout"));
        Assert.AreEqual(code, e.Code, e.Message);
    }

    [TestMethod]
    public void AnEngineThatIsNotInstalledIsOCIB4002NamingThePackage()
    {
        using var dir = new TempDirectory();
        var e = Assert.ThrowsExactly<OciBundleException>(() => ImageLoader.Check("docker", "linux-x64", dir.Path, "/tmp/layout"));
        Assert.AreEqual("OCIB4002", e.Code);
        StringAssert.Contains(e.Message, "sudo apt-get install docker.io");
        StringAssert.Contains(e.Message, "/tmp/layout", "it says the layout is written all the same");
    }

    [TestMethod]
    public void ADockerWithoutItsDaemonIsOCIB4003WithTheDaemonsOwnWordsAndTheFix()
    {
        TestEnvironment.Require(TestEnvironment.Which("docker") is not null, "the docker CLI");
        using var dir = new TempDirectory();

        // The real CLI, pointed at a socket nobody listens on: what a machine with docker installed and not started gives.
        File.WriteAllText(dir.Combine("docker"), $"#!/bin/sh\nDOCKER_HOST=unix://{dir.Combine("none.sock")} exec {TestEnvironment.Which("docker")} \"$@\"\n");
        File.SetUnixFileMode(dir.Combine("docker"), (UnixFileMode)0b111_101_101);
        var e = Assert.ThrowsExactly<OciBundleException>(() => ImageLoader.Check("docker", null, dir.Path, "/tmp/layout"));
        Assert.AreEqual("OCIB4003", e.Code);
        StringAssert.Contains(e.Message, "Cannot connect to the Docker daemon");
        StringAssert.Contains(e.Message, "OciImageLoad=podman");
    }

    [TestMethod]
    public void TheLoadTaskLogsCodesAndNeverThrows()
    {
        var engine = new FakeBuildEngine();
        Assert.IsFalse(new LoadOciImage { BuildEngine = engine, Engine = "containerd", ImageDirectory = "/tmp/layout", CheckOnly = true }.Execute());
        Assert.AreEqual("OCIB1600", engine.Errors.Single().Code);
        StringAssert.Contains(engine.Errors.Single().Message, "podman or docker");
    }

    [TestMethod]
    public void TheWebAppsSummaryAndOCIB3014GiveTheSameAdviceAndNoneRuncCannotFollow()
    {
        string shim = Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "libSystem.Native.so");
        TestEnvironment.Require(File.Exists(shim), "libSystem.Native.so in the .NET running the tests");
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("publish"));
        File.Copy(shim, dir.Combine("publish", "libSystem.Native.so"));
        File.WriteAllText(dir.Combine("publish", "Web"), "#!/bin/sh\n");
        File.SetUnixFileMode(dir.Combine("publish", "Web"), (UnixFileMode)0b111_101_101);

        string Summary(string network, FakeBuildEngine engine)
        {
            var task = TargetDefaults.Apply(new BuildOciContainer
            {
                BuildEngine = engine,
                PublishDirectory = dir.Combine("publish"),
                BundleDirectory = dir.Combine("bundle-" + network),
                AppName = "Web",
                AppHost = "Web",
                WriteBundle = true,
                HttpPorts = "8080",
                Network = network,
            });
            Assert.IsTrue(task.Execute(), string.Join("\n", engine.Errors.Select(e => e.Message)));
            return engine.Messages.Single(m => m.Message!.Contains("(OCI bundle: ", StringComparison.Ordinal)).Message!;
        }

        var privateEngine = new FakeBuildEngine();
        string privateLine = Summary("private", privateEngine);
        StringAssert.Contains(privateLine, "it listens on port 8080 of its own network namespace, which runc publishes nowhere (OciBundleNetwork=host serves it on the host's; podman run -p 8080:8080 publishes the image's)");
        Assert.IsFalse(privateEngine.Warnings.Any(w => w.Code == "OCIB3014"));

        var hostEngine = new FakeBuildEngine();
        StringAssert.Contains(Summary("host", hostEngine), "it serves http://localhost:8080/");
        string warning = hostEngine.Warnings.Single(w => w.Code == "OCIB3014").Message!;
        StringAssert.Contains(warning, "runc publishes no ports, so under runc this is how the host reaches a server in the bundle");
        StringAssert.Contains(warning, "podman run -p 8080:8080");
        Assert.IsFalse(warning.Contains("publish ports through the runtime", StringComparison.Ordinal), "advice runc cannot follow: " + warning);
    }
    [TestMethod]
    public void AStepOverTwoSecondsReportsItsLastDetailAtNormalVerbosityAndNothingAfterItEnds()
    {
        var engine = new FakeBuildEngine();
        var task = new LoadOciImage { BuildEngine = engine };
        using (var progress = new StepProgress(task.Log, "App: OCI bundle step"))
        {
            progress.Detail("hashed 120 of 700 files");
            Thread.Sleep(StepProgress.Interval * 1.6);
        }

        int count = engine.Messages.Count;
        Assert.IsTrue(engine.Messages.Any(m => m.Importance == Microsoft.Build.Framework.MessageImportance.Low && m.Message == "hashed 120 of 700 files"), "the detail at low importance, as before");
        var ticks = engine.Messages.Where(m => m.Importance == Microsoft.Build.Framework.MessageImportance.Normal).ToList();
        Assert.AreEqual(1, ticks.Count, string.Join("\n", engine.Messages.Select(m => m.Message)));
        StringAssert.Matches(ticks[0].Message, new System.Text.RegularExpressions.Regex("^App: OCI bundle step: [0-9]+ s so far; last: hashed 120 of 700 files$"));
        Thread.Sleep(StepProgress.Interval * 1.5);
        Assert.AreEqual(count, engine.Messages.Count, "no tick after the step ended (the task may have returned)");
    }

    [TestMethod]
    public void AStepShorterThanTwoSecondsPrintsNoProgress()
    {
        var engine = new FakeBuildEngine();
        using (var progress = new StepProgress(new LoadOciImage { BuildEngine = engine }.Log, "App: push"))
        {
            progress.Detail("one quick thing");
        }

        Thread.Sleep(StepProgress.Interval * 1.5);
        Assert.IsFalse(engine.Messages.Any(m => m.Importance == Microsoft.Build.Framework.MessageImportance.Normal));
    }
}
