using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace OciBundle.Request;

/// <summary>
/// When the commit the project was built from was made (its committer time, what <c>git log -1 --format=%ct</c>
/// prints and reproducible-builds.org suggests for <c>SOURCE_DATE_EPOCH</c>): the image's and the SBOM's
/// <c>created</c> when <c>SOURCE_DATE_EPOCH</c> is not set. The commit is the one the .NET SDK itself found for the
/// project (SourceRoot's <c>RevisionId</c>); git is asked only when a publish is out of date, and a commit that is
/// not there (a shallow clone's parent, no git installed, a repository git refuses) gives null, never an error.
/// </summary>
internal static partial class CommitTime
{
    [GeneratedRegex("^([0-9a-f]{40}|[0-9a-f]{64})$", RegexOptions.CultureInvariant)]
    private static partial Regex CommitId();

    /// <summary>A git commit id (SHA-1 or SHA-256, lowercase hex), else null: nothing else is ever passed to git.</summary>
    public static string? Parse(string? value) => value is not null && CommitId().IsMatch(value.Trim()) ? value.Trim() : null;

    /// <summary>The committer time of <paramref name="commit"/> in the repository holding <paramref name="directory"/>, in seconds since 1970; null when git cannot tell.</summary>
    public static long? Read(string directory, string commit, Action<string> log)
    {
        var psi = new ProcessStartInfo("git")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (string arg in new[] { "--no-pager", "log", "-1", "--no-show-signature", "--format=%ct", Parse(commit) ?? throw new ArgumentException("not a commit id", nameof(commit)), "--" })
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["GIT_TERMINAL_PROMPT"] = "0";
        try
        {
            using Process git = Process.Start(psi)!;
            git.StandardInput.Close();
            Task<string> error = git.StandardError.ReadToEndAsync();
            Task<string> stdout = git.StandardOutput.ReadToEndAsync();
            if (!git.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                git.Kill(entireProcessTree: true);
                log($"git took over 30 s to give the time of commit {commit}: created is not the commit's.");
                return null;
            }

            string output = stdout.Result;
            if (git.ExitCode == 0 && long.TryParse(output.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) && seconds <= uint.MaxValue)
            {
                log($"created: {DateTimeOffset.FromUnixTimeSeconds(seconds):yyyy-MM-dd'T'HH:mm:ss'Z'}, the time of commit {commit} (SOURCE_DATE_EPOCH is not set).");
                return seconds;
            }

            log($"git does not give the time of commit {commit} in {directory} (exit code {git.ExitCode}: {error.Result.Trim()}): created is not the commit's.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            log($"git cannot be run ({e.Message}): created is not the time of commit {commit}.");
        }

        return null;
    }
}
