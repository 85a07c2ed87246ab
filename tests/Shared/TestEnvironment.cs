using System.Diagnostics;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace OciBundle.Testing;

/// <summary>
/// What the machine running the tests has, and the rule for what it lacks: a test that needs runc, root, gcc or
/// ../shared may skip on a developer's machine (Inconclusive), but when OCIBUNDLE_REQUIRE_ALL=1 (set by .ci/run)
/// a missing prerequisite is a failure, so CI can never pass by skipping.
/// </summary>
public static class TestEnvironment
{
    public static bool RequireAll => Environment.GetEnvironmentVariable("OCIBUNDLE_REQUIRE_ALL") == "1";

    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared beside the repository: the specs and schemas. Never in a user's clone.</summary>
    public static string SharedDirectory => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static bool IsRoot => Environment.UserName == "root" || RunCapture("id", "-u").Output.Trim() == "0";

    public static void Require(bool condition, string what)
    {
        if (condition)
        {
            return;
        }

        if (RequireAll)
        {
            Assert.Fail($"Prerequisite missing: {what} (OCIBUNDLE_REQUIRE_ALL=1 turns this skip into a failure).");
        }

        // dotnet test shows a skip's reason only at detailed verbosity: the test projects' targets print these after the run.
        try
        {
            File.AppendAllText(Path.Combine(AppContext.BaseDirectory, SkipLog), what + "\n");
        }
        catch (IOException)
        {
        }

        Assert.Inconclusive($"Skipped: {what}.");
    }

    /// <summary>Where <see cref="Require"/> notes each skip's reason, beside the test assembly (tests/Directory.Build.targets prints them).</summary>
    public const string SkipLog = "skipped-tests.txt";

    /// <summary>Skips (or fails in CI) unless ../shared is beside the repository: this test reads it.</summary>
    public static string RequireShared(params string[] parts)
    {
        string path = Path.Combine(new[] { SharedDirectory }.Concat(parts).ToArray());
        Require(Directory.Exists(path) || File.Exists(path), $"this test reads {path} from ../shared, which is not beside the repository");
        return path;
    }

    /// <summary>The regular files under a folder, links to folders not followed (a merged-usr /lib is one).</summary>
    public static IEnumerable<string> RegularFiles(string dir)
    {
        foreach (string entry in Directory.EnumerateFileSystemEntries(dir))
        {
            var info = new FileInfo(entry);
            if (info.LinkTarget is not null)
            {
                continue;
            }

            if (info.Attributes.HasFlag(FileAttributes.Directory))
            {
                foreach (string file in RegularFiles(entry))
                {
                    yield return file;
                }
            }
            else
            {
                yield return entry;
            }
        }
    }

    public static string? Which(string program)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(new[] { "/usr/sbin", "/sbin" }))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public static ProcessResult RunCapture(string file, params string[] args) => Run(file, args, null, null, TimeSpan.FromMinutes(10));

    public static ProcessResult Run(string file, IEnumerable<string> args, string? workingDirectory, IDictionary<string, string?>? env, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        if (env is not null)
        {
            foreach ((string key, string? value) in env)
            {
                psi.Environment[key] = value;
            }
        }

        using var process = new Process { StartInfo = psi };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.Append(e.Data).Append('\n'); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return new ProcessResult(-1, stdout.ToString(), stderr + $"\n[timed out after {timeout}]");
        }

        process.WaitForExit();
        return new ProcessResult(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    private static string FindRepoRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "OciBundle.Sdk.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("Cannot find OciBundle.Sdk.sln above " + AppContext.BaseDirectory);
    }
}

public sealed record ProcessResult(int ExitCode, string Output, string Error)
{
    public string All => Output + Error;
}

/// <summary>A temporary folder deleted when disposed.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string? prefix = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), (prefix ?? "ocibundle-test-") + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine(new[] { Path }.Concat(parts).ToArray());

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
