using Microsoft.Build.Framework;
using OciBundle.Diagnostics;
using OciBundle.Request;

namespace OciBundle.Tasks;

/// <summary>
/// The .NET SDK's container settings that have no counterpart here: a coded warning for each one the project set
/// (OCIB1640-OCIB1644, OCIB1646, OCIB1647), and OCIB1645 for ContainerImageTag and ContainerImageTags both set. The ones with a
/// counterpart are mapped by the targets (OciBundle.Sdk.ContainerSettings.targets), not here.
/// </summary>
public sealed class CheckContainerSettings : Microsoft.Build.Utilities.Task
{
    public string? ContainerAppCommandInstruction { get; set; }

    public ITaskItem[] ContainerEntrypoint { get; set; } = Array.Empty<ITaskItem>();

    public ITaskItem[] ContainerEntrypointArgs { get; set; } = Array.Empty<ITaskItem>();

    public string? ContainerFamily { get; set; }

    public string? ContainerArchiveOutputPath { get; set; }

    public string? ContainerRuntimeIdentifier { get; set; }

    public string? RuntimeIdentifier { get; set; }

    public string? ContainerGenerateLabels { get; set; }

    public string? ContainerImageFormat { get; set; }

    public string? ContainerImageTag { get; set; }

    public string? ContainerImageTags { get; set; }

    /// <summary>The project gave both OciImageTag and OciImageTags, so neither Container tag setting is read.</summary>
    public bool OciImageTagsGiven { get; set; }

    public override bool Execute()
    {
        (IReadOnlyList<OciBundleException> warnings, IReadOnlyList<OciBundleException> errors) = PublishContainerSettings.Check(new PublishContainerSettings.ContainerSettingValues
        {
            AppCommandInstruction = ContainerAppCommandInstruction ?? "",
            Entrypoint = string.Join(";", ContainerEntrypoint.Select(i => i.ItemSpec)),
            EntrypointArgs = string.Join(";", ContainerEntrypointArgs.Select(i => i.ItemSpec)),
            Family = ContainerFamily ?? "",
            ArchiveOutputPath = ContainerArchiveOutputPath ?? "",
            RuntimeIdentifier = ContainerRuntimeIdentifier ?? "",
            PublishRuntimeIdentifier = RuntimeIdentifier ?? "",
            GenerateLabels = ContainerGenerateLabels ?? "",
            ImageFormat = ContainerImageFormat ?? "",
            ImageTag = ContainerImageTag ?? "",
            ImageTags = ContainerImageTags ?? "",
            OciTagsGiven = OciImageTagsGiven,
        });
        foreach (OciBundleException w in warnings)
        {
            Log.LogWarning(null, w.Code, null, null, 0, 0, 0, 0, w.Message);
        }

        foreach (OciBundleException e in errors)
        {
            Log.LogError(null, e.Code, null, null, 0, 0, 0, 0, e.Message);
        }

        return !Log.HasLoggedErrors;
    }
}
