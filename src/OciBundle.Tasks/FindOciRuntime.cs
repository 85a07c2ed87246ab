using Microsoft.Build.Framework;
using OciBundle.Diagnostics;

namespace OciBundle.Tasks;

/// <summary>
/// Finds runc for <c>RunOciBundle</c> and says how to call it: as root with its default state folder, or, for a
/// rootless bundle run by an unprivileged user, with a state folder of that user's own. Logs OCIB4001 when runc is missing.
/// </summary>
public sealed class FindOciRuntime : Microsoft.Build.Utilities.Task
{
    /// <summary>The runtime to look for on PATH (and in /usr/sbin, /sbin, where Debian puts runc); not a parameter: the tests name a missing one.</summary>
    internal string Runtime { get; set; } = "runc";

    [Required] public string BundleDirectory { get; set; } = "";

    /// <summary>The full path of the runtime.</summary>
    [Output] public string? RuntimePath { get; set; }

    /// <summary>Global options: <c>--root</c> for an unprivileged user.</summary>
    [Output] public string? GlobalOptions { get; set; }

    public override bool Execute()
    {
        IEnumerable<string> dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Concat(new[] { "/usr/local/sbin", "/usr/sbin", "/sbin" })
            .Where(d => d.Length > 0);
        RuntimePath = dirs.Select(d => Path.Combine(d, Runtime)).FirstOrDefault(File.Exists);
        if (RuntimePath is null)
        {
            Log.LogError(null, Strings.RuncNotFound.Code, null, null, 0, 0, 0, 0, Strings.RuncNotFound.Format($"crun run --bundle {BundleDirectory} <id>"));
            return false;
        }

        // Environment.UserName comes from the effective uid (getpwuid(geteuid())).
        if (Environment.UserName != "root")
        {
            // Not root: runc's default state folder (/run/runc) is root's; use the user's runtime dir, as rootless runc does.
            string baseDir = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } xdg ? xdg : Path.Combine(Path.GetTempPath(), $"runc-{Environment.UserName}");
            GlobalOptions = $"--root \"{Path.Combine(baseDir, "runc")}\"";
        }

        return true;
    }
}
