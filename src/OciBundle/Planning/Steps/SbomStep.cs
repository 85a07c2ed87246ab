using OciBundle.Closure;
using OciBundle.Diagnostics;
using OciBundle.Dotnet;
using OciBundle.Model;
using OciBundle.Request;
using OciBundle.Spdx;
using OciBundle.Storage;

namespace OciBundle.Planning.Steps;

/// <summary>
/// With <c>OciBundleSbom</c>: the SBOM of everything planned so far (so it is the last file planned, and lists every
/// other file), added to rootfs at <see cref="WellKnownPaths.SbomInContainer"/>; and the digests computed, for the next
/// publish to reuse.
/// </summary>
internal sealed class SbomStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        if (!context.Content.Sbom)
        {
            // The image's layers by change rate read deps.json too; the three-layer image and the bundle alone do not.
            context.AppLibraries = context.Output.Image is { Layering: ImageLayering.ByChangeRate } ? ReadDepsJson(context) : Array.Empty<DepsLibrary>();
            context.Sbom = null;
            context.SourceDigests = new Dictionary<string, string>();
            return;
        }

        ContentSpec content = context.Content;
        PackageDatabase? packages = context.Packages.Value;
        List<RootfsEntry> entries = context.Plan.Entries.ToList();
        (IReadOnlyDictionary<string, FileDigest> byPath, IReadOnlyDictionary<string, string> bySource) =
            FileDigests.Compute(entries, context.Inputs.Entries, Known(context), context.Cache.Value, context.Cancel);

        IReadOnlyList<DepsLibrary> libraries = context.SbomInputs?.Libraries ?? ReadDepsJson(context);
        context.AppLibraries = libraries;
        NuGetPackageFiles? packageFiles = context.SbomInputs?.PackageFiles
            ?? (content.NuGetPackageRoot is { } root ? new NuGetPackageFiles(root, context.Cache.Value, context.Inputs, context.Log) : null);
        var licenses = new LicenseMemory(context.Cache.Value);
        byte[] document = SpdxSbom.Write(new SbomSources
        {
            Licenses = licenses,
            Files = entries,
            Digests = byPath,
            AppName = content.AppName,
            AppDirectory = context.Process.WorkingDirectory,
            AppLibraries = libraries,
            Frameworks = context.Frameworks,
            Host = context.Host,
            Origin = context.OriginOf,
            CompiledRuntimePacks = content.RuntimePacks,
            Packages = packages,
            Os = ReadOsRelease(context),
            RidArch = content.Arch.RidArch,
            Sysroot = context.Sysroot,
            NuGetPackageRoot = content.NuGetPackageRoot,
            PackageFiles = packageFiles,
            Inputs = context.Inputs,
            Epoch = context.Created,
            SysrootDigest = context.Materialized.Digest,
        });
        packageFiles?.Save(); // the .nupkg digests, for the next plan on this machine
        licenses.Save();
        context.Plan.AddContent(WellKnownPaths.SbomInContainer, document, FileModes.Data, "the SBOM of this root file system (SPDX 2.3, OciBundleSbom; it lists every other file)");
        context.Sbom = document;
        context.SourceDigests = bySource;
    }

    /// <summary>
    /// The digests known by source: the last publish's, with what the prefetch hashed since the app's files were planned
    /// over them (each is reused only while its source keeps the identity it was hashed at).
    /// </summary>
    private static IReadOnlyDictionary<string, string>? Known(PlanContext context)
    {
        if (context.SbomInputs?.Finish(context.Log) is not { Count: > 0 } prefetched)
        {
            return context.KnownDigests;
        }

        var known = context.KnownDigests is { } last ? new Dictionary<string, string>(last, StringComparer.Ordinal) : new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string source, string digest) in prefetched)
        {
            known[source] = digest;
        }

        return known;
    }

    /// <summary>The app's deps.json libraries; none when it has no deps.json (Native AOT).</summary>
    private static IReadOnlyList<DepsLibrary> ReadDepsJson(PlanContext context)
    {
        string depsPath = context.Content.DepsFile;
        context.Inputs.Path(depsPath);
        if (!File.Exists(depsPath))
        {
            return Array.Empty<DepsLibrary>();
        }

        try
        {
            return DepsJson.Read(depsPath);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new OciBundleException(Strings.RuntimeConfigUnreadable, depsPath, e.Message);
        }
    }

    /// <summary>The sysroot's os-release (<c>/etc/os-release</c>, else <c>/usr/lib/os-release</c>), links followed inside the sysroot.</summary>
    private static OsRelease? ReadOsRelease(PlanContext context)
    {
        foreach (string path in new[] { "/etc/os-release", "/usr/lib/os-release" })
        {
            // Only as the plan took it from the sysroot: one left out by the host-file rule is not read either.
            if (context.Sysroot.Resolve(path) is { IsDirectory: false } found && context.Plan.TryGet(found.RealPath, out RootfsEntry planned)
                && planned.SourcePath == context.Sysroot.HostPath(found.RealPath))
            {
                string host = context.Sysroot.HostPath(found.RealPath);
                var info = new FileInfo(host);
                if (info.Exists && info.Length < 64 * 1024)
                {
                    return OsRelease.Parse(File.ReadAllText(host));
                }
            }
        }

        return null;
    }
}
