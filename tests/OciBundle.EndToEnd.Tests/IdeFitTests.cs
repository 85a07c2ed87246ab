using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>Issue 7: the product behaves like a part of the .NET SDK from the command line and IDEs.</summary>
[TestClass]
public sealed class IdeFitTests
{
    [TestMethod]
    public void OnlyPublishWritesABundleAndProfilesCapabilityAndCleanWork()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("Profiles", program: "Console.WriteLine(\"profiles\");");

        // Design-time builds (what IDEs run constantly) and plain builds never write a bundle.
        project.Dotnet("build", "-c", "Release", "-p:PublishOciBundle=true");
        Assert.IsFalse(Directory.Exists(project.BundleDir), "dotnet build wrote a bundle");
        project.Publish("-p:PublishOciBundle=true", "-p:DesignTimeBuild=true");
        Assert.IsFalse(Directory.Exists(project.BundleDir), "a design-time build wrote a bundle");

        // The built-in profile, with no .pubxml in the project.
        ProcessResult profile = project.Publish("-p:PublishProfile=OciBundle", "-v:n");
        Assert.AreEqual("profiles\n", Runc.RunAsRoot(project.BundleDir).Output);
        Assert.IsFalse(profile.Output.Contains("process.args:"), "details stay out of normal verbosity");
        Assert.AreEqual(1, profile.Output.Split('\n').Count(l => l.Contains("(OCI bundle: ")), "one summary line per bundle");

        // A user's .pubxml, as an IDE's Publish command uses it.
        string profiles = Path.Combine(project.Directory, "Properties", "PublishProfiles");
        Directory.CreateDirectory(profiles);
        File.WriteAllText(Path.Combine(profiles, "Container.pubxml"), """
            <Project>
              <PropertyGroup>
                <PublishOciBundle>true</PublishOciBundle>
                <OciBundleHostname>from-pubxml</OciBundleHostname>
              </PropertyGroup>
            </Project>
            """);
        ProcessResult pubxml = project.Publish("-p:PublishProfile=Container", "-v:d");
        StringAssert.Contains(File.ReadAllText(Path.Combine(project.BundleDir, "config.json")), "\"hostname\": \"from-pubxml\"");
        StringAssert.Contains(pubxml.Output, "process.args: /app/Profiles", "details are there at -v:d (and in a binlog)");

        ProcessResult capabilities = project.Dotnet("msbuild", "-getItem:ProjectCapability");
        StringAssert.Contains(capabilities.Output, "\"Identity\": \"OciBundle\"");

        ProcessResult clean = project.Dotnet("clean", "-c", "Release", "-p:PublishOciBundle=true");
        Assert.AreEqual(0, clean.ExitCode, clean.All);
        Assert.IsFalse(Directory.Exists(project.BundleDir), "dotnet clean removed the bundle");
    }

    [TestMethod]
    public void RunOciBundlePublishesAndRunsStreamingTheAppsOutput()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("Runner", program: "Console.WriteLine(\"ran by RunOciBundle in \" + Environment.MachineName); Console.WriteLine(); Console.WriteLine(\"after a blank line\");");

        ProcessResult run = project.Dotnet("msbuild", "-t:RunOciBundle", "-p:Configuration=Release", "-p:RuntimeIdentifier=linux-x64");

        Assert.AreEqual(0, run.ExitCode, run.All);
        StringAssert.Contains(run.Output, "ran by RunOciBundle in runner");
        StringAssert.Contains(run.Output, "after a blank line", "an app that prints an empty line streams on and succeeds");
        Assert.IsFalse(run.Output.Contains("MSB3073", StringComparison.Ordinal) || run.Output.Contains("MSB3077", StringComparison.Ordinal), run.Output);
        Assert.IsTrue(File.Exists(Path.Combine(project.BundleDir, "config.json")));
    }

    [TestMethod]
    public void SeveralFrameworksOrRuntimesWithNoneChosenGiveACodedError()
    {
        using TestProject frameworks = TestProject.FromXml("MultiTfm", """
            <Project Sdk="Microsoft.NET.Sdk">
              <Sdk Name="OciBundle.Sdk" Version="$(OciBundleSdkVersion)" />
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFrameworks>net10.0;net9.0</TargetFrameworks>
              </PropertyGroup>
            </Project>
            """, "System.Console.WriteLine(\"multi\");");
        ProcessResult tfm = frameworks.Publish(false, "-p:PublishOciBundle=true");
        StringAssert.Contains(tfm.Output, "error OCIB1130: PublishOciBundle is true and the project lists TargetFrameworks (net10.0;net9.0)");
        StringAssert.Contains(tfm.Output, "dotnet publish -f net10.0 -p:PublishOciBundle=true");

        // Self-contained, the SDK itself picks this machine's RID (its own bundle folder); framework-dependent, nothing picks one.
        using TestProject runtimes = TestProject.WithSdkElement("MultiRid", "<RuntimeIdentifiers>linux-x64;linux-arm64</RuntimeIdentifiers><SelfContained>false</SelfContained>");
        ProcessResult rid = runtimes.Publish(false, "-p:PublishOciBundle=true");
        StringAssert.Contains(rid.Output, "error OCIB1130: PublishOciBundle is true and the project lists RuntimeIdentifiers (linux-x64;linux-arm64)");
        Assert.IsFalse(Directory.Exists(Path.Combine(runtimes.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-bundle")));
    }
}
