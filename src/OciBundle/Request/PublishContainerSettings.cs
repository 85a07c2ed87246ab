using OciBundle.Diagnostics;

namespace OciBundle.Request;

/// <summary>
/// The .NET SDK's <c>PublishContainer</c> settings this product has no counterpart for. The targets map every one
/// that has a counterpart (<c>ContainerRepository</c> to <c>OciImageRepository</c>, ...); the others are said out
/// loud, each with its own code and what to write instead, so a project moved here never loses a setting silently.
/// Plain values in (what the project set, empty when it set nothing), diagnostics out.
/// </summary>
internal static class PublishContainerSettings
{
    /// <summary>What a project set for the .NET SDK's container publish, as plain text (items joined with ';').</summary>
    internal sealed record ContainerSettingValues
    {
        public string AppCommandInstruction { get; init; } = "";

        public string Entrypoint { get; init; } = "";

        public string EntrypointArgs { get; init; } = "";

        public string Family { get; init; } = "";

        public string ArchiveOutputPath { get; init; } = "";

        public string RuntimeIdentifier { get; init; } = "";

        /// <summary>The publish's own <c>RuntimeIdentifier</c>, which the image is for.</summary>
        public string PublishRuntimeIdentifier { get; init; } = "";

        public string GenerateLabels { get; init; } = "";

        public string ImageFormat { get; init; } = "";

        public string ImageTag { get; init; } = "";

        public string ImageTags { get; init; } = "";

        /// <summary>Both <c>OciImageTag</c> and <c>OciImageTags</c> were given, so neither Container tag setting is read.</summary>
        public bool OciTagsGiven { get; init; }
    }

    /// <summary>The warnings (settings not read) and errors (settings that contradict each other) for <paramref name="v"/>.</summary>
    public static (IReadOnlyList<OciBundleException> Warnings, IReadOnlyList<OciBundleException> Errors) Check(ContainerSettingValues v)
    {
        var warnings = new List<OciBundleException>();
        string instruction = v.AppCommandInstruction.Trim();
        if (instruction.Length > 0 && !instruction.Equals("Entrypoint", StringComparison.OrdinalIgnoreCase))
        {
            warnings.Add(new OciBundleException(Strings.ContainerAppCommandInstructionNotRead, instruction));
        }

        foreach ((string name, string value) in new[] { ("ContainerEntrypoint", v.Entrypoint), ("ContainerEntrypointArgs", v.EntrypointArgs) })
        {
            if (value.Trim().Length > 0)
            {
                warnings.Add(new OciBundleException(Strings.ContainerEntrypointNotRead, name, value.Trim()));
            }
        }

        if (v.Family.Trim().Length > 0)
        {
            warnings.Add(new OciBundleException(Strings.ContainerFamilyNotRead, v.Family.Trim()));
        }

        if (v.ArchiveOutputPath.Trim().Length > 0)
        {
            warnings.Add(new OciBundleException(Strings.ContainerArchiveOutputPathNotRead, v.ArchiveOutputPath.Trim()));
        }

        string rid = v.RuntimeIdentifier.Trim();
        if (rid.Length > 0 && !rid.Equals(v.PublishRuntimeIdentifier.Trim(), StringComparison.Ordinal))
        {
            warnings.Add(new OciBundleException(Strings.ContainerRuntimeIdentifierNotRead, rid, v.PublishRuntimeIdentifier.Trim().Length > 0 ? v.PublishRuntimeIdentifier.Trim() : "none"));
        }

        if (v.GenerateLabels.Trim().Equals("false", StringComparison.OrdinalIgnoreCase))
        {
            warnings.Add(new OciBundleException(Strings.ContainerGenerateLabelsNotRead, v.GenerateLabels.Trim()));
        }

        string format = v.ImageFormat.Trim();
        if (format.Length > 0 && !format.Equals("OCI", StringComparison.OrdinalIgnoreCase))
        {
            warnings.Add(new OciBundleException(Strings.ContainerImageFormatNotRead, format));
        }

        var errors = new List<OciBundleException>();
        if (!v.OciTagsGiven && v.ImageTag.Trim().Length > 0 && v.ImageTags.Split(';').Any(t => t.Trim().Length > 0))
        {
            errors.Add(new OciBundleException(Strings.ContainerImageTagAndTags, v.ImageTag.Trim(), v.ImageTags.Trim()));
        }

        return (warnings, errors);
    }
}
