using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>A fresh project on disk that consumes the packed SDK the way a user's does.</summary>
public sealed class TestProject : IDisposable
{
    private readonly TempDirectory _dir;

    private TestProject(string name, string projectXml, string program)
    {
        Name = name;
        _dir = new TempDirectory("ocibundle-proj-");
        Directory = Path.Combine(_dir.Path, name);
        System.IO.Directory.CreateDirectory(Directory);
        File.WriteAllText(Path.Combine(Directory, name + ".csproj"), projectXml);
        File.WriteAllText(Path.Combine(Directory, "Program.cs"), program);
        File.WriteAllText(Path.Combine(Directory, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="ocibundle-under-test" value="{SdkFeed.Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <!-- The package under test only from the run's own feed (at a version no other run has); everything else
                   from nuget.org into the machine's package folder, so runtime packs are downloaded once, not every run. -->
              <packageSourceMapping>
                <packageSource key="ocibundle-under-test">
                  <package pattern="OciBundle.Sdk" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        // Keep the build from picking up the repository's or the machine's Directory.Build.* files.
        File.WriteAllText(Path.Combine(_dir.Path, "Directory.Build.props"), "<Project />");
        File.WriteAllText(Path.Combine(_dir.Path, "Directory.Build.targets"), "<Project />");
    }

    public string Name { get; }
    public string Directory { get; }

    public string PublishDir => Path.Combine(Directory, "bin", "Release", "net10.0", "linux-x64", "publish");

    public string BundleDir => Path.Combine(Directory, "bin", "Release", "net10.0", "linux-x64", "oci-bundle");

    public static string ProbeSource => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Apps", "Probe.cs"));

    /// <summary>A console project with <c>&lt;Sdk Name="OciBundle.Sdk" /&gt;</c>, as PRODUCT.md shows it.</summary>
    public static TestProject WithSdkElement(string name, string properties = "", string items = "", string? program = null) => new(name, $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <Sdk Name="OciBundle.Sdk" Version="{SdkFeed.Version}" />
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
            <ImplicitUsings>enable</ImplicitUsings>
            <Nullable>enable</Nullable>
            {properties}
          </PropertyGroup>
          <ItemGroup>
            {items}
          </ItemGroup>
        </Project>
        """, program ?? ProbeSource);

    /// <summary>The same app consuming the SDK as a PackageReference.</summary>
    public static TestProject WithPackageReference(string name, string properties = "", string? program = null) => new(name, $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
            <ImplicitUsings>enable</ImplicitUsings>
            {properties}
          </PropertyGroup>
          <ItemGroup>
            <PackageReference Include="OciBundle.Sdk" Version="{SdkFeed.Version}" PrivateAssets="all" />
          </ItemGroup>
        </Project>
        """, program ?? ProbeSource);

    public static TestProject FromXml(string name, string projectXml, string program) => new(name, projectXml.Replace("$(OciBundleSdkVersion)", SdkFeed.Version), program);

    /// <summary>Environment variables for every dotnet command of this project (SOURCE_DATE_EPOCH, say).</summary>
    public Dictionary<string, string?> Environment { get; } = new(CompilerServer.Environment)
    {
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_NOLOGO"] = "1",
        ["MSBUILDTERMINALLOGGER"] = "off",
        // Each test uses its own MSBuild nodes, so a task assembly loaded by one never serves another.
        ["MSBUILDDISABLENODEREUSE"] = "1",
    };

    private static readonly object TemplateEngine = new();

    /// <summary>
    /// Runs <c>dotnet new</c> in <paramref name="directory"/>, one at a time in this run: the template engine keeps its
    /// cache in the user's home (~/.templateengine), and two processes writing it at once can fail (dotnet/templating#5203).
    /// </summary>
    public static ProcessResult DotnetNew(string directory, IDictionary<string, string?> environment, params string[] args)
    {
        lock (TemplateEngine)
        {
            return TestEnvironment.Run("dotnet", new[] { "new" }.Concat(args), directory, environment, TimeSpan.FromMinutes(2));
        }
    }

    /// <summary>Runs dotnet with the given arguments in the project folder.</summary>
    public ProcessResult Dotnet(params string[] args) => TestEnvironment.Run("dotnet", args.Append("-nologo"), Directory, Environment, TimeSpan.FromMinutes(8));

    /// <summary>
    /// Starts <c>dotnet publish</c> in a session of its own (setsid), so the whole process tree, MSBuild nodes
    /// included, can be killed at once with <c>kill -9 -- -pid</c>.
    /// </summary>
    public System.Diagnostics.Process StartPublish(params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("setsid") { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "dotnet", "publish", "-c", "Release", "-nologo" }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        foreach ((string key, string? value) in Environment)
        {
            psi.Environment[key] = value;
        }

        var process = System.Diagnostics.Process.Start(psi)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Replaces the app's source (to make the next publish rewrite the bundle).</summary>
    public void WriteProgram(string source) => File.WriteAllText(Path.Combine(Directory, "Program.cs"), source);

    /// <summary>dotnet publish -c Release with extra arguments; asserts success unless told otherwise, with the log in the message.</summary>
    public ProcessResult Publish(params string[] args) => Publish(expectSuccess: true, args);

    public ProcessResult Publish(bool expectSuccess, params string[] args)
    {
        ProcessResult result = Dotnet(new[] { "publish", "-c", "Release" }.Concat(args).ToArray());
        if (expectSuccess)
        {
            Assert.AreEqual(0, result.ExitCode, $"dotnet publish {string.Join(' ', args)} failed:\n{result.All}");
        }

        return result;
    }

    public void Dispose() => _dir.Dispose();
}
