using System.Text.RegularExpressions;
using OciBundle.Tasks;
using OciBundle.Testing;
using OciBundle.Request;

namespace OciBundle.Tests;

/// <summary>
/// The defaults the SDK's targets give, read from the targets file itself (the one place they live), so a test that
/// calls the engine or the task directly gets what a publish would, and cannot drift from it.
/// </summary>
internal static class TargetDefaults
{
    private static readonly Dictionary<string, string> Values = Read();

    /// <summary>The targets' default of a property (for OciBundleUser, the one of a bundle that is not rootless).</summary>
    public static string Of(string property) => Values.TryGetValue(property, out string? value) ? value : throw new KeyNotFoundException($"the targets give {property} no default");

    public static long Epoch => long.Parse(Of("_OciBundleSourceDateEpoch"), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Options as a publish of a console app would give them.</summary>
    public static BundleOptions Options(string publish, string bundle, string appName, string? appHost = null) => new()
    {
        PublishDirectory = publish,
        BundleDirectory = bundle,
        AppName = appName,
        AppHost = appHost,
        OS = Of("OciBundleOS"),
        WorkingDirectory = Of("OciBundleWorkingDirectory"),
        User = Of("OciBundleUser"),
        SpecVersion = Of("OciBundleSpecVersion"),
        Network = Of("OciBundleNetwork"),
        Sysroot = Of("OciBundleSysroot"),
        IncludeTimeZoneData = bool.Parse(Of("OciBundleIncludeTimeZoneData")),
        IncludeGssapi = bool.Parse(Of("OciBundleIncludeGssapi")),
        NoNewPrivileges = bool.Parse(Of("OciBundleNoNewPrivileges")),
        ReadOnly = bool.Parse(Of("OciBundleReadOnly")),
        Sbom = bool.Parse(Of("OciBundleSbom")),
        Capabilities = Of("OciBundleCapabilities").Split(';').ToList(),
        RootCapabilities = Of("OciBundleRootCapabilities").Split(';').ToList(),
        Seccomp = Of("OciBundleSeccomp"),
        MaskedPaths = Of("OciBundleMaskedPaths").Split(';').ToList(),
        ReadonlyPaths = Of("OciBundleReadonlyPaths").Split(';').ToList(),
        SourceDateEpoch = Of("_OciBundleSourceDateEpoch"),
        ImageTag = Of("OciImageTag"),
        ImageLayerCompression = Of("OciImageLayerCompression"),
        ImageLayering = Of("OciImageLayering"),
        ImageRepository = RepositoryOf(appName),
        WriteBundle = true,
    };

    /// <summary>
    /// The targets' OciImageRepository default for a project name, computed as their expression does (lowercase, each
    /// run of other characters one '-'); the expression is checked to be that one, so the two cannot drift.
    /// </summary>
    public static string RepositoryOf(string assemblyName)
    {
        const string expression = "$([System.Text.RegularExpressions.Regex]::Replace('$(AssemblyName.ToLowerInvariant())', '[^a-z0-9]+', '-').Trim('-'))";
        if (Of("OciImageRepository") != expression)
        {
            throw new InvalidOperationException("the targets' OciImageRepository default changed: update TargetDefaults.RepositoryOf");
        }

        return Regex.Replace(assemblyName.ToLowerInvariant(), "[^a-z0-9]+", "-").Trim('-');
    }

    /// <summary>The task with the parameters the targets pass it.</summary>
    public static BuildOciContainer Task() => new()
    {
        OS = Of("OciBundleOS"),
        WorkingDirectory = Of("OciBundleWorkingDirectory"),
        User = Of("OciBundleUser"),
        SpecVersion = Of("OciBundleSpecVersion"),
        Network = Of("OciBundleNetwork"),
        Sysroot = Of("OciBundleSysroot"),
        IncludeTimeZoneData = bool.Parse(Of("OciBundleIncludeTimeZoneData")),
        IncludeGssapi = bool.Parse(Of("OciBundleIncludeGssapi")),
        NoNewPrivileges = bool.Parse(Of("OciBundleNoNewPrivileges")),
        ReadOnly = bool.Parse(Of("OciBundleReadOnly")),
        Sbom = bool.Parse(Of("OciBundleSbom")),
        Capabilities = Of("OciBundleCapabilities"),
        RootCapabilities = Of("OciBundleRootCapabilities"),
        Seccomp = Of("OciBundleSeccomp"),
        MaskedPaths = Of("OciBundleMaskedPaths"),
        ReadonlyPaths = Of("OciBundleReadonlyPaths"),
        SourceDateEpoch = Of("_OciBundleSourceDateEpoch"),
        ImageTag = Of("OciImageTag"),
        ImageLayerCompression = Of("OciImageLayerCompression"),
        ImageLayering = Of("OciImageLayering"),
        WriteBundle = true,
    };

    /// <summary>
    /// The targets' defaults for every string parameter left empty (the targets' own rule), and for the booleans
    /// (which cannot be empty: set those after this).
    /// </summary>
    public static BuildOciContainer Apply(BuildOciContainer task)
    {
        BuildOciContainer d = Task();
        task.OS ??= d.OS;
        task.WorkingDirectory ??= d.WorkingDirectory;
        task.User ??= d.User;
        task.SpecVersion ??= d.SpecVersion;
        task.Network ??= d.Network;
        task.Sysroot ??= d.Sysroot;
        task.Capabilities ??= d.Capabilities;
        task.RootCapabilities ??= d.RootCapabilities;
        task.Seccomp ??= d.Seccomp;
        task.MaskedPaths ??= d.MaskedPaths;
        task.ReadonlyPaths ??= d.ReadonlyPaths;
        task.SourceDateEpoch ??= d.SourceDateEpoch;
        task.ImageTag ??= d.ImageTag;
        task.ImageLayerCompression ??= d.ImageLayerCompression;
        task.ImageLayering ??= d.ImageLayering;
        task.ImageRepository ??= RepositoryOf(task.AppName);
        task.IncludeTimeZoneData = d.IncludeTimeZoneData;
        task.NoNewPrivileges = d.NoNewPrivileges;
        task.ReadOnly = d.ReadOnly;
        task.Sbom = d.Sbom;
        task.WriteBundle |= task.ImageDirectory is null; // a bundle unless only an image was asked for
        return task;
    }

    private static Dictionary<string, string> Read()
    {
        string targets = File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "sdk", "build", "OciBundle.Sdk.targets"));
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        // <Name Condition="'$(Name)' == ''">value</Name>, the first one (OciBundleUser's second is the rootless one).
        foreach (Match m in Regex.Matches(targets, @"<(?<name>[A-Za-z_]+) Condition=""'\$\(\k<name>\)' == ''(?: and [^""]*)?"">(?<value>[^<]*)</\k<name>>"))
        {
            values.TryAdd(m.Groups["name"].Value, m.Groups["value"].Value);
        }

        return values;
    }
}
