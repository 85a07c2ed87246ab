using System.Text.RegularExpressions;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// README, executed: every code block marked <c>&lt;!-- readme-test ... --&gt;</c> runs as written, in order, in a copy
/// of the repository with a home folder of its own (so <c>~/oci-feed</c> and <c>dotnet nuget add source</c> touch
/// nothing of the machine's), as root (where README says <c>sudo</c>). A marker may name a file the block is written
/// to (<c>file=</c>), the folder it runs in (<c>dir=</c>, relative to the copy), and lines it does not run
/// (<c>skip=</c>: the test suite itself, a push to a registry this machine cannot reach, a command that needs a
/// terminal). A block's <c># ...</c> lines after its last command are output it must print (the first exactly).
/// </summary>
[TestClass]
public sealed partial class ReadmeTests
{
    [GeneratedRegex(@"<!-- readme-test(?::(?<opts>[^>]*))? -->\s*\n```[a-z]*\n(?<body>.*?)\n```", RegexOptions.Singleline)]
    private static partial Regex MarkedBlock();

    [TestMethod]
    public void READMEsMarkedBlocksRunAsWritten()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("git") is not null && Path.Exists(Path.Combine(TestEnvironment.RepoRoot, ".git")), "a git checkout of the repository, or a worktree of one (its tracked files are copied)");
        string readme = File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "README.md"));
        var blocks = MarkedBlock().Matches(readme).ToList();
        Assert.IsTrue(blocks.Count >= 6, $"README marks its runnable blocks; found {blocks.Count}");

        using var work = new TempDirectory("ocibundle-readme-");
        string repo = work.Combine("repo"), home = work.Combine("home");
        ProcessResult files = TestEnvironment.RunCapture("git", "-C", TestEnvironment.RepoRoot, "ls-files", "-z");
        foreach (string file in files.Output.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            string target = Path.Combine(repo, file);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (File.Exists(Path.Combine(TestEnvironment.RepoRoot, file)))
            {
                File.Copy(Path.Combine(TestEnvironment.RepoRoot, file), target);
            }
        }

        // A home of its own: NuGet's user config (nuget.org, and the machine's packages as a read-only fallback, so
        // runtime packs are not downloaded again), README's ~/oci-feed, and a package folder that forgets 1.0.0.
        Directory.CreateDirectory(Path.Combine(home, ".nuget", "NuGet"));
        File.WriteAllText(Path.Combine(home, ".nuget", "NuGet", "NuGet.Config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources><add key="nuget.org" value="https://api.nuget.org/v3/index.json" /></packageSources>
              <fallbackPackageFolders><add key="machine" value="{SdkFeed.Packages}" /></fallbackPackageFolders>
            </configuration>
            """);
        var env = new Dictionary<string, string?>(CompilerServer.Environment)
        {
            ["HOME"] = home,
            ["NUGET_PACKAGES"] = work.Combine("packages"),
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["MSBUILDTERMINALLOGGER"] = "off",
            ["MSBUILDDISABLENODEREUSE"] = "1",
        };

        // The project the Quick start adds the SDK to is the template's, made by README's own 'dotnet new console' block
        // (issue 28: its Program.cs needs the template's ImplicitUsings, which README's project file must keep).
        CleanUp();
        try
        {
            foreach (Match block in blocks)
            {
                Run(block, repo, env);
            }
        }
        finally
        {
            CleanUp();
        }
    }

    /// <summary>What README's commands make outside the copy: their containers, umoci's bundle, the Quick start's empty data folder.</summary>
    private static void CleanUp()
    {
        foreach (string id in new[] { "hellobundle", "myapp" })
        {
            TestEnvironment.RunCapture("runc", "delete", "--force", id);
        }

        if (Directory.Exists("/tmp/myapp-bundle"))
        {
            Directory.Delete("/tmp/myapp-bundle", recursive: true);
        }

        if (Directory.Exists("/var/lib/mydata") && !Directory.EnumerateFileSystemEntries("/var/lib/mydata").Any())
        {
            Directory.Delete("/var/lib/mydata");
        }
    }

    private static void Run(Match block, string repo, Dictionary<string, string?> env)
    {
        var options = (block.Groups["opts"].Value).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(o => (Key: o[..o.IndexOf('=')], Value: o[(o.IndexOf('=') + 1)..])).ToList();
        string body = block.Groups["body"].Value;
        if (options.FirstOrDefault(o => o.Key == "file") is { Key: not null } file)
        {
            File.WriteAllText(Path.GetFullPath(Path.Combine(repo, file.Value)), body + "\n");
            return;
        }

        string dir = Path.GetFullPath(Path.Combine(repo, options.FirstOrDefault(o => o.Key == "dir").Value ?? "."));
        string[] skips = options.Where(o => o.Key == "skip").Select(o => o.Value).ToArray();
        string[] lines = body.Split('\n');
        int lastCommand = Array.FindLastIndex(lines, l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#'));
        string[] expected = lines.Skip(lastCommand + 1).Where(l => l.StartsWith("# ", StringComparison.Ordinal)).Select(l => l[2..]).ToArray();
        var commands = lines.Take(lastCommand + 1).Where(l => !skips.Any(s => l.Contains(s, StringComparison.Ordinal))).ToList();

        // As root, sudo is the command itself (CI machines have no sudo); every command must succeed.
        string script = "set -euo pipefail\nsudo() { \"$@\"; }\n" + string.Join("\n", commands) + "\n";
        ProcessResult run = TestEnvironment.Run("bash", new[] { "-c", script }, dir, env, TimeSpan.FromMinutes(10));
        Assert.AreEqual(0, run.ExitCode, $"README block in {dir} failed:\n{script}\n{run.All}");
        if (expected.Length > 0)
        {
            StringAssert.Contains(run.Output, expected[0] + "\n", $"README says this block prints '{expected[0]}':\n{script}\n{run.All}");
        }
    }

    /// <summary>
    /// Issue 28: README's quick start names the web template too, with the same one line; that line, as README spells
    /// it (at the version under test), added to what <c>dotnet new webapi</c> makes, publishes a bundle.
    /// </summary>
    [TestMethod]
    public void READMEsSdkLineAddedToTheWebapiTemplatePublishes()
    {
        string readme = File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "README.md"));
        StringAssert.Contains(readme, "dotnet new webapi -o myapp");
        string line = readme.Split('\n').First(l => l.TrimStart().StartsWith("<Sdk Name=\"OciBundle.Sdk\"", StringComparison.Ordinal)).Trim();
        using TestProject project = TestProject.FromXml("myweb", "<Project />", "");
        ProcessResult created = TestProject.DotnetNew(project.Directory, project.Environment, "webapi", "--force", "-n", "myweb", "-o", ".");
        Assert.AreEqual(0, created.ExitCode, created.All);
        string csproj = Path.Combine(project.Directory, "myweb.csproj");
        const string first = "<Project Sdk=\"Microsoft.NET.Sdk.Web\">";
        StringAssert.StartsWith(File.ReadAllText(csproj).TrimStart('\uFEFF'), first, "README says the web template's project starts so");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace(first, first + "\n  " + line.Replace("Version=\"1.0.0\"", $"Version=\"{SdkFeed.Version}\"", StringComparison.Ordinal), StringComparison.Ordinal));
        ProcessResult publish = project.Publish("-p:PublishOciBundle=true");
        StringAssert.Contains(publish.Output, "myweb -> ", publish.Output);
        Assert.IsTrue(File.Exists(Path.Combine(project.BundleDir, "rootfs", "app", "myweb.dll")), publish.Output);
    }
}
