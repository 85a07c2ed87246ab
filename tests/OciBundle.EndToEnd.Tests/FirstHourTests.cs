using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>Issue 28: what a newcomer meets in the first hour: clean that cleans, an image that lands in podman's store.</summary>
[TestClass]
public sealed class FirstHourTests
{
    private static string ImageDir(TestProject project) => Path.Combine(project.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-image");

    [TestMethod]
    public void DotnetCleanRemovesTheBundleTheImageAndTheArchiveOfTheLastPublishWithoutItsSwitches()
    {
        using TestProject project = TestProject.WithSdkElement("Cleaned", program: "Console.WriteLine(\"cleaned\");");
        string archive = Path.Combine(project.Directory, "out", "cleaned.oci.tar");
        Directory.CreateDirectory(Path.GetDirectoryName(archive)!);
        project.Publish("-p:PublishOciBundle=true", "-p:PublishOciImage=true", $"-p:OciImageArchive={archive}");
        Assert.IsTrue(File.Exists(Path.Combine(project.BundleDir, "config.json")) && File.Exists(Path.Combine(ImageDir(project), "index.json")) && File.Exists(archive));

        // What a user types: no RuntimeIdentifier (the <Sdk> form picked it for the publish), none of the publish's switches.
        ProcessResult clean = project.Dotnet("clean", "-c", "Release");
        Assert.AreEqual(0, clean.ExitCode, clean.All);
        Assert.IsFalse(Directory.Exists(project.BundleDir), "the bundle is gone:\n" + clean.Output);
        Assert.IsFalse(Directory.Exists(ImageDir(project)), "the image layout is gone:\n" + clean.Output);
        Assert.IsFalse(File.Exists(archive), "the archive is gone:\n" + clean.Output);
        Assert.IsTrue(Directory.Exists(Path.GetDirectoryName(archive)), "the archive's folder is the user's: kept");

        // The output-folder rule still holds: an archive path now holding the user's own file is kept, and said so.
        project.Publish("-p:PublishOciImage=true", $"-p:OciImageArchive={archive}");
        File.Delete(archive);
        File.WriteAllText(archive, "the user's own notes, not an OCI archive\n");
        ProcessResult kept = project.Dotnet("clean", "-c", "Release");
        Assert.AreEqual(0, kept.ExitCode, kept.All);
        Assert.AreEqual("the user's own notes, not an OCI archive\n", File.ReadAllText(archive));
        StringAssert.Contains(kept.Output, "warning OCIB3008", kept.Output);
        Assert.IsFalse(Directory.Exists(ImageDir(project)), "the image layout, still the product's, is gone:\n" + kept.Output);
    }

    [TestMethod]
    public void OciImageLoadPodmanPutsTheImageWherePodmanRunFindsItByTheNameTheLinePrints()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("podman") is not null, "podman (Debian package podman)");
        string marker = Guid.NewGuid().ToString("N")[..8];
        using TestProject project = TestProject.WithSdkElement("LoadedIntoPodman", program: $"Console.WriteLine(\"loaded {marker}\");");
        const string reference = "localhost/loadedintopodman:latest";
        try
        {
            ProcessResult publish = project.Publish("-p:OciImageLoad=podman");
            StringAssert.Contains(publish.Output, $"(OCI image {reference}, ", publish.Output);
            StringAssert.Contains(publish.Output, $"LoadedIntoPodman -> podman {reference} (loaded into podman's local store", publish.Output);

            ProcessResult run = TestEnvironment.RunCapture("podman", "run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", reference);
            Assert.AreEqual(0, run.ExitCode, run.All);
            StringAssert.EndsWith(run.Output, $"loaded {marker}\n");

            // Nothing changed: the store has this image already, under that name, and is not loaded again.
            ProcessResult again = project.Publish("-p:OciImageLoad=podman");
            StringAssert.Contains(again.Output, $"LoadedIntoPodman -> podman {reference} (already in podman's local store", again.Output);
        }
        finally
        {
            TestEnvironment.RunCapture("podman", "rmi", "--force", reference);
        }
    }

    [TestMethod]
    public void OciImageLoadWithAnEngineThatIsNotInstalledIsOCIB4002BeforeAnythingIsWritten()
    {
        using TestProject project = TestProject.WithSdkElement("LoadNoEngine", program: "Console.WriteLine(\"x\");");
        project.Environment["PATH"] = Path.GetDirectoryName(TestEnvironment.Which("dotnet")!) + ":/nonexistent";
        ProcessResult publish = project.Publish(expectSuccess: false, "-p:OciImageLoad=docker");
        Assert.AreNotEqual(0, publish.ExitCode);
        StringAssert.Contains(publish.Output, "error OCIB4002", publish.Output);
        Assert.IsFalse(Directory.Exists(ImageDir(project)), "the engine is asked before the image is written");
    }

    /// <summary>
    /// Issue 28: an unhandled exception exits 139 in the container where the host gives 134, because the app is PID 1
    /// of its PID namespace (README, "Exit codes: the app is PID 1"): the same published app, as PID 1 of a new PID
    /// namespace on the host, exits 139 too, and as PID 2 exits 134.
    /// </summary>
    [TestMethod]
    public void AnUnhandledExceptionExits139UnderRuncAsPid1()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("unshare") is not null, "unshare (util-linux)");
        using TestProject project = TestProject.WithSdkElement("Thrower", program: "Console.WriteLine(\"about to throw\"); throw new InvalidOperationException(\"unhandled on purpose\");");
        project.Publish("-p:PublishOciBundle=true");

        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        StringAssert.Contains(run.All, "Unhandled exception. System.InvalidOperationException: unhandled on purpose", run.All);
        Assert.AreEqual(139, run.ExitCode, run.All);

        string app = Path.Combine(project.PublishDir, "Thrower");
        Assert.AreEqual(134, TestEnvironment.RunCapture(app).ExitCode, "on the host, abort()'s SIGABRT");
        Assert.AreEqual(139, TestEnvironment.RunCapture("unshare", "--pid", "--fork", app).ExitCode, "as PID 1 of a PID namespace, on the host too");
        Assert.AreEqual(134, TestEnvironment.RunCapture("unshare", "--pid", "--fork", "sh", "-c", $"{app}; exit $?").ExitCode, "as PID 2 of one");
    }
}
