using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Packs OciBundle.Sdk once per test run into a temporary feed, with a version of its own, and gives every test
/// project a NuGet.config that clears other sources and a packages folder private to the run: no copy of the
/// package from an earlier build can ever be used.
/// </summary>
[TestClass]
public static class SdkFeed
{
    public static string Root { get; private set; } = "";
    public static string Feed => Path.Combine(Root, "feed");
    public static string Packages => Path.Combine(Root, "packages");
    public static string Version { get; private set; } = "";

    [AssemblyInitialize]
    public static void Pack(TestContext _)
    {
        Root = Path.Combine(Path.GetTempPath(), "ocibundle-e2e-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Root);
        Version = "1.0.0-e2e." + DateTime.UtcNow.ToString("yyyyMMddHHmmss");
        ProcessResult pack = TestEnvironment.Run(
            "dotnet",
            new[] { "pack", Path.Combine(TestEnvironment.RepoRoot, "src", "OciBundle.Tasks", "OciBundle.Tasks.csproj"), "-c", "Release", "-o", Feed, "-p:Version=" + Version, "-nologo" },
            null,
            null,
            TimeSpan.FromMinutes(5));
        Assert.AreEqual(0, pack.ExitCode, "dotnet pack failed:\n" + pack.All);
    }

    [AssemblyCleanup]
    public static void Cleanup()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
