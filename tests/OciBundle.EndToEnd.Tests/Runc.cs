using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>Runs bundles with the real runc, as root or as an unprivileged user.</summary>
public static class Runc
{
    /// <summary>The unprivileged user .ci/run creates for rootless runs.</summary>
    public const string RootlessUser = "ocibundle-test";

    public static void RequireRoot()
    {
        TestEnvironment.Require(TestEnvironment.Which("runc") is not null, "runc is not installed (apt-get install runc)");
        TestEnvironment.Require(TestEnvironment.IsRoot, "running bundles as root needs root");
    }

    public static (uint Uid, uint Gid) RequireRootlessUser()
    {
        RequireRoot(); // root switches to the unprivileged user
        ProcessResult uid = TestEnvironment.RunCapture("id", "-u", RootlessUser);
        TestEnvironment.Require(uid.ExitCode == 0, $"the unprivileged user '{RootlessUser}' (created by .ci/run: useradd -m {RootlessUser})");
        return (uint.Parse(uid.Output.Trim()), uint.Parse(TestEnvironment.RunCapture("id", "-g", RootlessUser).Output.Trim()));
    }

    public static ProcessResult RunAsRoot(string bundle)
    {
        RequireRoot();
        string id = "ocib-" + Guid.NewGuid().ToString("N")[..12];
        string state = Path.Combine(Path.GetTempPath(), "runc-state-" + id);
        try
        {
            return TestEnvironment.Run("runc", new[] { "--root", state, "run", "--bundle", bundle, id }, bundle, null, TimeSpan.FromMinutes(2));
        }
        finally
        {
            TestEnvironment.RunCapture("runc", "--root", state, "delete", "--force", id);
        }
    }

    /// <summary>
    /// Runs the bundle as root until it prints <paramref name="readyLine"/>, then sends it <paramref name="signal"/>
    /// with <c>runc kill</c>, as an orchestrator stopping it would; returns what it printed and its exit code.
    /// <paramref name="whileRunning"/> gets the container's pid (on the host) before the signal.
    /// </summary>
    public static ProcessResult RunAsRootAndSignal(string bundle, string readyLine, string signal, Action<int>? whileRunning = null)
    {
        RequireRoot();
        string id = "ocib-" + Guid.NewGuid().ToString("N")[..12];
        string state = Path.Combine(Path.GetTempPath(), "runc-state-" + id);
        var psi = new System.Diagnostics.ProcessStartInfo("runc") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = bundle };
        foreach (string a in new[] { "--root", state, "run", "--bundle", bundle, id })
        {
            psi.ArgumentList.Add(a);
        }

        var output = new System.Text.StringBuilder();
        var error = new System.Text.StringBuilder();
        using var ready = new ManualResetEventSlim();
        using var process = new System.Diagnostics.Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (output)
            {
                output.Append(e.Data).Append('\n');
            }

            if (e.Data.Contains(readyLine, StringComparison.Ordinal))
            {
                ready.Set();
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (error) error.Append(e.Data).Append('\n'); };
        try
        {
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            Assert.IsTrue(ready.Wait(TimeSpan.FromMinutes(1)), $"the app never printed '{readyLine}':\n{output}{error}");
            if (whileRunning is not null)
            {
                // The container's init process on the host, for nsenter into its namespaces.
                ProcessResult state2 = TestEnvironment.RunCapture("runc", "--root", state, "state", id);
                Assert.AreEqual(0, state2.ExitCode, state2.All);
                whileRunning((int)Newtonsoft.Json.Linq.JObject.Parse(state2.Output)["pid"]!);
            }

            ProcessResult kill = TestEnvironment.RunCapture("runc", "--root", state, "kill", id, signal);
            Assert.AreEqual(0, kill.ExitCode, kill.All);
            if (!process.WaitForExit(TimeSpan.FromMinutes(1)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"the app did not stop within a minute of {signal}:\n{output}{error}");
            }

            process.WaitForExit();
            return new ProcessResult(process.ExitCode, output.ToString(), error.ToString());
        }
        finally
        {
            TestEnvironment.RunCapture("runc", "--root", state, "delete", "--force", id);
        }
    }

    public static ProcessResult RunRootless(string bundle)
    {
        RequireRootlessUser();
        string id = "ocib-" + Guid.NewGuid().ToString("N")[..12];
        string state = Path.Combine(Path.GetTempPath(), "runc-rootless-" + id);
        // The user's own state folder, as a user without sudo would have; XDG_RUNTIME_DIR is not set by runuser.
        return TestEnvironment.Run("runuser", new[] { "-u", RootlessUser, "--", "runc", "--root", state, "run", "--bundle", bundle, id }, "/", null, TimeSpan.FromMinutes(2));
    }

    /// <summary>Makes a folder and its parents traversable by the unprivileged user (temp folders are 0700 on some systems).</summary>
    public static void OpenUpFor(string path)
    {
        for (string? dir = path; dir is not null && dir != "/"; dir = Path.GetDirectoryName(dir))
        {
            File.SetUnixFileMode(dir, File.GetUnixFileMode(dir) | UnixFileMode.OtherExecute | UnixFileMode.OtherRead);
        }
    }
}
