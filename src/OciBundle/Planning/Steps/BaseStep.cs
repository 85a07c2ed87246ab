using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Request;
using OciBundle.Sysroots;

namespace OciBundle.Planning.Steps;

/// <summary>
/// <c>OciImageBase</c>: the image to build on, made a folder by the sysroot's rules (once, when it is the sysroot too)
/// and opened as an image: its layers, its config, its platform (OCIB1650 when not the publish's); its /etc, where the
/// accounts go, a folder (OCIB1663).
/// </summary>
internal sealed class BaseStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        ContentSpec content = context.Content;
        context.Base = content.Base is { } spec
            ? BaseImage.Materialize(spec, content.SysrootIsBase ? context.Materialized : null, content.Arch, context.Inputs, context.Log, context.Cancel)
            : null;
        if (context.Base is { } baseImage && NativeMethods.LStat(baseImage.Root + "/etc") is { } etc
            && (etc.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFLNK)
        {
            throw new OciBundleException(Strings.BaseEtcIsALink, baseImage.Source, new FileInfo(baseImage.Root + "/etc").LinkTarget ?? "");
        }

        // A user name only the base's accounts have (www-data, nobody): its uid:gid, now that the base's tree is known.
        context.Process = context.Process with { User = AccountFiles.Resolve(context.Process.User, context.Base?.Root) };
    }
}
