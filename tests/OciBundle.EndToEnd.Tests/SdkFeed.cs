using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Packs OciBundle.Sdk once per test run into a temporary feed, with a version of its own, and gives every test
/// project a NuGet.config that clears other sources and maps OciBundle.Sdk to that feed alone: no copy of the
/// package from an earlier build can ever be used, while runtime packs come from the machine's package folder.
/// The package holds what the build of this test project built (src/OciBundle.Tasks is a project reference of it, in
/// the same configuration): the pack builds nothing again and writes nothing under src/ (its nuspec goes to
/// <see cref="Root"/>), so it takes seconds and never races the unit tests, which run beside these tests.
/// </summary>
[TestClass]
public static class SdkFeed
{
    public static string Root { get; private set; } = "";
    public static string Feed => Path.Combine(Root, "feed");

    /// <summary>The machine's package folder (NUGET_PACKAGES, else ~/.nuget/packages), where this run's version of the package lands.</summary>
    public static string Packages => Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
        ? folder
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
    public static string Version { get; private set; } = "";

    /// <summary>The configuration this test project (and with it src/OciBundle.Tasks) was built in.</summary>
    private static string Configuration => typeof(SdkFeed).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
        .OfType<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "OciBundleTestConfiguration").Value!;

    [AssemblyInitialize]
    public static void Pack(TestContext _)
    {
        Root = Path.Combine(Path.GetTempPath(), "ocibundle-e2e-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Root);
        // Unique to the run, even for two runs started in the same second on one machine (they share the package folder).
        Version = "1.0.0-e2e." + DateTime.UtcNow.ToString("yyyyMMddHHmmss") + ".r" + Guid.NewGuid().ToString("N")[..8];
        ProcessResult pack = TestEnvironment.Run(
            "dotnet",
            new[]
            {
                "pack", Path.Combine(TestEnvironment.RepoRoot, "src", "OciBundle.Tasks", "OciBundle.Tasks.csproj"), "-c", Configuration, "--no-build", "--no-restore",
                "-o", Feed, "-p:Version=" + Version, "-p:NuspecOutputPath=" + Path.Combine(Root, "nuspec") + "/", "-nologo",
            },
            null,
            null,
            TimeSpan.FromMinutes(5));
        Assert.AreEqual(0, pack.ExitCode, "dotnet pack failed:\n" + pack.All);
        CompilerServer.Start(Path.Combine(Root, "compiler-server"));
    }

    [AssemblyCleanup]
    public static void Cleanup()
    {
        SharedProjects.DisposeAll();
        CompilerServer.Stop();
        foreach (string dir in new[] { Root, Path.Combine(Packages, "ocibundle.sdk", Version.ToLowerInvariant()) })
        {
            try
            {
                if (Directory.Exists(dir))
                {
                    Directory.Delete(dir, recursive: true);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}
