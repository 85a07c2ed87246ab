using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>Issue 2: a console project publishes to a bundle runc runs, in both package forms.</summary>
[TestClass]
public sealed class BundleTests
{
    [TestMethod]
    public void SdkElementProjectPublishesABundleThatRuncRuns()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("HelloBundle");

        // A plain build and a plain publish never write a bundle.
        project.Dotnet("build", "-c", "Release", "-r", "linux-x64");
        Assert.IsFalse(Directory.Exists(project.BundleDir), "dotnet build wrote a bundle");

        // No RuntimeIdentifier given: linux-<this machine's arch>, self-contained.
        ProcessResult publish = project.Publish("-p:PublishOciBundle=true");
        StringAssert.Contains(publish.Output, $"HelloBundle -> {project.BundleDir}/ (OCI bundle: ");
        StringAssert.Contains(publish.Output, $"run it with: sudo runc run --bundle {project.BundleDir} hellobundle");

        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual("Hello from an OCI bundle!\nargs: \n", run.Output, run.All);
        Assert.AreEqual(3, run.ExitCode, "the app's exit code comes through runc");
        BundleInvariant.AssertNoHostUserCanReplaceIt(project.BundleDir);

        // (Its schema validity is SchemaTests': that one needs ../shared, this one only runc.)
        string config = Path.Combine(project.BundleDir, "config.json");
        string json = File.ReadAllText(config);
        Assert.IsFalse(json.Contains("\"platform\""), "no platform field");
        StringAssert.Contains(json, "\"args\": [\n      \"/app/HelloBundle\"\n    ]");

        // A non-Linux RuntimeIdentifier: our coded error, before the SDK's, and the bundle is untouched.
        string before = TreeFingerprint.Of(project.BundleDir);
        ProcessResult windows = project.Publish(false, "-r", "win-x64", "-p:PublishOciBundle=true", $"-p:OciBundleDir={project.BundleDir}/");
        Assert.AreNotEqual(0, windows.ExitCode);
        StringAssert.Contains(windows.Output, "error OCIB1001: RuntimeIdentifier 'win-x64' is not a Linux runtime");
        Assert.IsFalse(windows.Output.Contains("NETSDK1112"), windows.Output);
        Assert.AreEqual(before, TreeFingerprint.Of(project.BundleDir), "the previous bundle is byte-for-byte intact");
    }

    [TestMethod]
    public void PackageReferenceProjectPublishesABundleThatRuncRuns()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithPackageReference("HelloPackageRef");

        // NuGet imports a package's build/ props only after the first restore, so this form names the RID and self-containment.
        project.Publish("-r", "linux-x64", "--self-contained", "-p:PublishOciBundle=true");

        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual("Hello from an OCI bundle!\nargs: \n", run.Output, run.All);
        Assert.AreEqual(3, run.ExitCode);
    }

    [TestMethod]
    public void APackageReferenceProjectWithoutARuntimeIdentifierIsToldWhatToAdd()
    {
        using TestProject project = TestProject.WithPackageReference("PackageRefNoRid");
        for (int attempt = 1; attempt <= 2; attempt++)
        {
            // The first publish restores the package; the second has its props from the start: the same answer.
            ProcessResult publish = project.Publish(false, "-p:PublishOciBundle=true");
            Assert.AreNotEqual(0, publish.ExitCode, publish.Output);
            StringAssert.Contains(publish.Output, "error OCIB1220: ", $"attempt {attempt}\n{publish.Output}");
            StringAssert.Contains(publish.Output, "-r linux-x64 --self-contained", publish.Output);
            Assert.IsFalse(publish.Output.Contains("error NETSDK1047", StringComparison.Ordinal), publish.Output);
        }

        // --self-contained alone makes the SDK infer a RuntimeIdentifier itself, restore included: that publishes.
        ProcessResult selfContained = project.Publish(true, "--self-contained", "-p:PublishOciBundle=true");
        StringAssert.Contains(selfContained.Output, "(OCI bundle: ", selfContained.Output);
    }

    [TestMethod]
    public void ALibraryProjectCannotBeABundle()
    {
        using TestProject project = TestProject.FromXml("NotAnApp", """
            <Project Sdk="Microsoft.NET.Sdk">
              <Sdk Name="OciBundle.Sdk" Version="$(OciBundleSdkVersion)" />
              <PropertyGroup>
                <OutputType>Library</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <PublishOciBundle>true</PublishOciBundle>
              </PropertyGroup>
            </Project>
            """, "public static class Lib { }");

        // Asked for in the library's own project file: a mistake, said so.
        ProcessResult publish = project.Publish(false);
        Assert.AreNotEqual(0, publish.ExitCode);
        StringAssert.Contains(publish.Output, "error OCIB1002: PublishOciBundle is true but OutputType is 'Library'");
        Assert.IsFalse(publish.All.Contains("   at "), "no stack trace");

        // Asked for on the command line (as for a whole solution): skipped, with one line.
        File.WriteAllText(Path.Combine(project.Directory, "NotAnApp.csproj"), File.ReadAllText(Path.Combine(project.Directory, "NotAnApp.csproj")).Replace("<PublishOciBundle>true</PublishOciBundle>", "", StringComparison.Ordinal));
        publish = project.Publish(true, "-p:PublishOciBundle=true");
        StringAssert.Contains(publish.Output, "NotAnApp: not an app (OutputType Library), so no OCI bundle", publish.Output);
    }
}
