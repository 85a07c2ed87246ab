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

    [TestMethod]
    public void ASolutionPublishBundlesTheAppAndSkipsTheLibrary()
    {
        Runc.RequireRoot();
        // As teams set it up: the package, the RuntimeIdentifier and self-containment for every project in Directory.Build.props.
        using TestProject app = TestProject.FromXml("SlnApp", """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <ProjectReference Include="../SlnLib/SlnLib.csproj" />
              </ItemGroup>
            </Project>
            """, "Console.WriteLine(SlnLib.Greeting.Text);");
        string root = Path.GetDirectoryName(app.Directory)!;
        File.Copy(Path.Combine(app.Directory, "NuGet.config"), Path.Combine(root, "NuGet.config"));
        File.WriteAllText(Path.Combine(root, "Directory.Build.props"), $"""
            <Project>
              <PropertyGroup>
                <RuntimeIdentifier>linux-x64</RuntimeIdentifier>
                <SelfContained>true</SelfContained>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="OciBundle.Sdk" Version="{SdkFeed.Version}" PrivateAssets="all" />
              </ItemGroup>
            </Project>
            """);
        Directory.CreateDirectory(Path.Combine(root, "SlnLib"));
        File.WriteAllText(Path.Combine(root, "SlnLib", "SlnLib.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
              </PropertyGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(root, "SlnLib", "Greeting.cs"), "namespace SlnLib; public static class Greeting { public const string Text = \"hello from the library\"; }\n");
        ProcessResult Dotnet(params string[] args) => TestEnvironment.Run("dotnet", args, root, app.Environment, TimeSpan.FromMinutes(8));
        Assert.AreEqual(0, TestProject.DotnetNew(root, app.Environment, "sln", "-n", "All").ExitCode);
        string sln = Directory.GetFiles(root, "All.sln*").Single();
        Assert.AreEqual(0, Dotnet("sln", sln, "add", "SlnApp/SlnApp.csproj", "SlnLib/SlnLib.csproj").ExitCode);

        ProcessResult publish = Dotnet("publish", sln, "-c", "Release", "-p:PublishOciBundle=true");
        Assert.AreEqual(0, publish.ExitCode, publish.All);
        StringAssert.Contains(publish.Output, "SlnLib: not an app (OutputType Library), so no OCI bundle", publish.Output);
        Assert.IsFalse(publish.Output.Contains("OCIB1002", StringComparison.Ordinal), publish.Output);
        Assert.IsFalse(Directory.Exists(Path.Combine(root, "SlnLib", "bin", "Release", "net10.0", "linux-x64", "oci-bundle")));

        ProcessResult run = Runc.RunAsRoot(app.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        Assert.AreEqual("hello from the library\n", run.Output);
    }
}
