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
    public string? RuntimeIdentifiers { get; set; }

    /// <summary>Set in the outer build of a multi-targeted project: a bundle is for one framework.</summary>
    public string? TargetFrameworks { get; set; }
    public string? OutputType { get; set; }
    public string? OS { get; set; }

    /// <summary>A PackageReference with no RuntimeIdentifier: the default the targets would choose cannot reach restore.</summary>
    public bool RuntimeIdentifierUnreachable { get; set; }

    /// <summary>The RuntimeIdentifier of this machine's architecture, to name in OCIB1220.</summary>
    public string? DefaultRuntimeIdentifier { get; set; }

    /// <summary><c>OciImageRuntimeIdentifiers</c> of the outer publish: each RID once (OCIB1404), checked before any per-RID publish runs.</summary>
    public string? ImageRuntimeIdentifiers { get; set; }

    public override bool Execute()
    {
        string[] frameworks = Split(TargetFrameworks);
        if (frameworks.Length > 0)
        {
            // The outer build of a multi-targeted project, even with one framework (the SDK does not publish an
            // outer build: NETSDK1129). Say how to pick one; the inner build checks the rest.
            Report(Strings.MultipleTargets, "TargetFrameworks", string.Join(";", frameworks), "-f", frameworks[0]);
            return false;
        }


        foreach (string twice in Split(ImageRuntimeIdentifiers).GroupBy(r => r, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key))
        {
            Report(Strings.DuplicateRuntimeIdentifier, twice);
        }

        if (RuntimeIdentifierUnreachable)
        {
            Report(Strings.RuntimeIdentifierUnreachable, string.IsNullOrEmpty(DefaultRuntimeIdentifier) ? "linux-x64" : DefaultRuntimeIdentifier);
        }

        if (!string.IsNullOrEmpty(RuntimeIdentifier) && !RuntimeIdentifier!.StartsWith("linux", StringComparison.OrdinalIgnoreCase))
        {
            Report(Strings.NonLinuxRuntimeIdentifier, RuntimeIdentifier);
        }

        string[] rids = Split(RuntimeIdentifiers);
        if (string.IsNullOrEmpty(RuntimeIdentifier) && rids.Length > 1)
        {
            Report(Strings.MultipleTargets, "RuntimeIdentifiers", string.Join(";", rids), "-r", rids[0]);
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

    private static string[] Split(string? list) =>
        (list ?? "").Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries).Select(r => r.Trim()).Where(r => r.Length > 0).ToArray();

    private void Report(Diagnostic diagnostic, params object?[] args) =>
        Log.LogError(null, diagnostic.Code, null, null, 0, 0, 0, 0, diagnostic.Format(args));
}
