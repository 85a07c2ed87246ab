using Microsoft.Build.Framework;
using OciBundle.Diagnostics;

namespace OciBundle.Tasks;

/// <summary>
/// The checks that must run before the .NET SDK resolves runtime packs or builds anything, so the user sees our
/// coded error instead of the SDK's (NETSDK1112 and the like): a non-Linux RuntimeIdentifier, a project that is
/// not an executable, several targets sharing one bundle folder.
/// </summary>
public sealed class CheckOciBundleProject : Microsoft.Build.Utilities.Task
{
    public string? RuntimeIdentifier { get; set; }
    public string? OutputType { get; set; }
    public string? OS { get; set; }

    public override bool Execute()
    {
        if (!string.IsNullOrEmpty(RuntimeIdentifier) && !RuntimeIdentifier!.StartsWith("linux", StringComparison.OrdinalIgnoreCase))
        {
            Report(Strings.NonLinuxRuntimeIdentifier, RuntimeIdentifier);
        }

        if (!string.Equals(OutputType, "Exe", StringComparison.OrdinalIgnoreCase) && !string.Equals(OutputType, "WinExe", StringComparison.OrdinalIgnoreCase))
        {
            Report(Strings.NotExecutable, string.IsNullOrEmpty(OutputType) ? "Library" : OutputType);
        }

        if (!string.IsNullOrWhiteSpace(OS) && !string.Equals(OS!.Trim(), "linux", StringComparison.Ordinal))
        {
            Report(Strings.UnsupportedOS, OS);
        }

        return !Log.HasLoggedErrors;
    }

    private void Report(Diagnostic diagnostic, params object?[] args) =>
        Log.LogError(null, diagnostic.Code, null, null, 0, 0, 0, 0, diagnostic.Format(args));
}
