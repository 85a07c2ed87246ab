using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>Issue 11's defects in how a project names what it targets: one framework in TargetFrameworks, another architecture.</summary>
[TestClass]
public sealed class TargetShapeTests
{
    [TestMethod]
    public void AProjectWithOneFrameworkInTargetFrameworksPublishesABundle()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.FromXml("SingleTfm", """
            <Project Sdk="Microsoft.NET.Sdk">
              <Sdk Name="OciBundle.Sdk" Version="$(OciBundleSdkVersion)" />
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFrameworks>net10.0</TargetFrameworks>
              </PropertyGroup>
            </Project>
            """, "System.Console.WriteLine(\"one framework\");");

        ProcessResult outer = project.Publish(false, "-p:PublishOciBundle=true");
        StringAssert.Contains(outer.Output, "error OCIB1130: PublishOciBundle is true and the project lists TargetFrameworks (net10.0)", outer.Output);
        Assert.IsFalse(outer.Output.Contains("OCIB1002", StringComparison.Ordinal), "an Exe is not called a library: " + outer.Output);

        project.Publish("-f", "net10.0", "-p:PublishOciBundle=true");
        Assert.AreEqual("one framework\n", Runc.RunAsRoot(project.BundleDir).Output);
    }

    [TestMethod]
    public void Arm64WithoutAnArm64SysrootGivesOneShortCodedMessage()
    {
        TestEnvironment.Require(System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.X64
            && !Directory.Exists("/usr/lib/aarch64-linux-gnu"), "an amd64 build machine without arm64 libraries (the case under test)");
        using TestProject project = TestProject.WithSdkElement("OtherArch", program: "System.Console.WriteLine(\"arm64\");");

        ProcessResult publish = project.Publish(false, "-r", "linux-arm64", "-p:PublishOciBundle=true");

        Assert.AreNotEqual(0, publish.ExitCode);
        var errors = publish.Output.Split('\n').Where(l => l.Contains(": error ", StringComparison.Ordinal)).Distinct().ToList();
        Assert.AreEqual(1, errors.Count, string.Join("\n", errors));
        StringAssert.Contains(errors[0], "error OCIB2006: the sysroot '/' holds no libraries for arm64");
        StringAssert.Contains(errors[0], "OciBundleSysroot");
        Assert.IsTrue(errors[0].Length < 800, errors[0]);
    }
}
