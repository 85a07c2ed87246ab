using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// One C# compiler server (VBCSCompiler) for every publish of the run, as a user's machine has by default: a publish
/// of a fresh project then compiles in a warm server instead of starting the compiler anew (about 3 s of CPU less per
/// project, with dozens of projects). A machine may turn the server off for everything (UseSharedCompilation=false in
/// the environment, as CI machines do so no server outlives a job); this run's server has a pipe name of its own, is
/// started in a session of its own (so a test that kills a publish's session, GuaranteesTests, never kills it), and is
/// stopped after the run. Compiled output is the same with or without it (deterministic compilation).
/// </summary>
internal static class CompilerServer
{
    /// <summary>The server's pipe name (SharedCompilationId), unique to the run.</summary>
    public static string Id { get; } = "ocibundle-e2e-csc-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>What a dotnet command sets to compile in this run's server.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Environment => new Dictionary<string, string?>
    {
        ["UseSharedCompilation"] = "true",
        ["SharedCompilationId"] = Id,
    };

    /// <summary>Starts the server: builds an empty library in <paramref name="folder"/> under setsid.</summary>
    public static void Start(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "Warm.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(folder, "Warm.cs"), "public static class Warm { }\n");
        File.WriteAllText(Path.Combine(folder, "Directory.Build.props"), "<Project />");
        File.WriteAllText(Path.Combine(folder, "Directory.Build.targets"), "<Project />");
        var env = new Dictionary<string, string?>(Environment) { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1", ["MSBUILDDISABLENODEREUSE"] = "1" };
        ProcessResult build = TestEnvironment.Run("setsid", new[] { "dotnet", "build", "-nologo" }, folder, env, TimeSpan.FromMinutes(5));
        Assert.AreEqual(0, build.ExitCode, "the compiler server's first build failed:\n" + build.All);
    }

    /// <summary>Stops the server this run started (the process whose command line names its pipe).</summary>
    public static void Stop()
    {
        foreach (string proc in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                string[] args = File.ReadAllText(Path.Combine(proc, "cmdline")).Split('\0');
                if (args.Any(a => a.EndsWith("VBCSCompiler", StringComparison.Ordinal) || a.EndsWith("VBCSCompiler.dll", StringComparison.Ordinal))
                    && args.Contains("-pipename:" + Id) && int.TryParse(Path.GetFileName(proc), out int pid))
                {
                    using var server = System.Diagnostics.Process.GetProcessById(pid);
                    server.Kill();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }
    }
}
