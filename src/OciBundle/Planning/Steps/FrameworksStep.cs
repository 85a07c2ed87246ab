using OciBundle.Diagnostics;
using OciBundle.Dotnet;
using OciBundle.Model;
using OciBundle.Rootfs;
using OciBundle.Spdx;

namespace OciBundle.Planning.Steps;

/// <summary>
/// The app's runtimeconfig.json, and for a framework-dependent app the frameworks the host would pick (each with the
/// frameworks it builds on), hostfxr and the muxer, from the build machine's .NET under the container's dotnet root.
/// </summary>
internal sealed class FrameworksStep : IPlanStep
{
    private const string ContainerDotnetRoot = WellKnownPaths.DotnetRoot;

    public void Run(PlanContext context)
    {
        context.AppRuntimeConfig = ReadRuntimeConfig(context);
        if (!context.FrameworkDependent)
        {
            context.Frameworks = Array.Empty<BundledFramework>();
            context.Host = null;
            return;
        }

        context.ElfClosure.Resolver.Claim(ContainerDotnetRoot);
        string dotnetRoot = context.Content.DotnetRoot is { } configured
            ? configured
            : Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(typeof(object).Assembly.Location)))!; // shared/Microsoft.NETCore.App/<v>/ -> root
        dotnetRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dotnetRoot));
        context.Frameworks = AddFrameworks(context, context.AppRuntimeConfig!, dotnetRoot);
        context.Host = AddHost(context, dotnetRoot);
    }

    private static RuntimeConfig? ReadRuntimeConfig(PlanContext context)
    {
        string path = Path.Combine(context.Content.PublishDirectory, context.Content.AppName + ".runtimeconfig.json");
        context.Inputs.Path(path);
        return File.Exists(path) ? Read(path) : null;
    }

    private static RuntimeConfig Read(string path)
    {
        try
        {
            return RuntimeConfig.Read(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new OciBundleException(Strings.RuntimeConfigUnreadable, path, e.Message);
        }
    }

    /// <summary>The frameworks the host would pick, each with the frameworks it builds on (named in its own runtimeconfig.json).</summary>
    private static List<BundledFramework> AddFrameworks(PlanContext context, RuntimeConfig config, string dotnetRoot)
    {
        var frameworks = new List<BundledFramework>();
        var pending = new Queue<(FrameworkReference Framework, string RollForward, string NeededBy)>(
            config.Frameworks.Select(f => (f, f.RollForward ?? config.RollForward, context.Content.AppName + ".runtimeconfig.json")));
        var done = new HashSet<string>(StringComparer.Ordinal);
        while (pending.Count > 0)
        {
            (FrameworkReference fw, string rollForward, string neededBy) = pending.Dequeue();
            if (!done.Add(fw.Name))
            {
                continue;
            }

            string frameworkDir = Path.Combine(dotnetRoot, "shared", fw.Name);
            context.Inputs.Listing(frameworkDir);
            string[] installed = Directory.Exists(frameworkDir)
                ? Directory.GetDirectories(frameworkDir).Select(Path.GetFileName).OfType<string>().ToArray()
                : Array.Empty<string>();
            string? version = SharedFrameworkResolver.Pick(installed, fw.Version, rollForward)
                ?? throw new OciBundleException(Strings.FrameworkNotFound, fw.Name, fw.Version, dotnetRoot, installed.Length == 0 ? "none" : string.Join(", ", installed));

            string source = Path.Combine(frameworkDir, version);
            string target = $"{ContainerDotnetRoot}/shared/{fw.Name}/{version}";
            HostTree.Add(context.Plan, source, target, $"shared framework {fw.Name} {version} (named by {neededBy})", context.Inputs);
            frameworks.Add(new BundledFramework(fw.Name, version, target));

            string nested = Path.Combine(source, fw.Name + ".runtimeconfig.json");
            if (File.Exists(nested))
            {
                foreach (FrameworkReference inner in Read(nested).Frameworks)
                {
                    pending.Enqueue((inner, rollForward, fw.Name));
                }
            }
        }

        return frameworks;
    }

    /// <summary>hostfxr (the latest installed) and the muxer: the .NET host of a framework-dependent app.</summary>
    private static (string Version, IReadOnlyList<string> Paths) AddHost(PlanContext context, string dotnetRoot)
    {
        string fxrRoot = Path.Combine(dotnetRoot, "host", "fxr");
        context.Inputs.Listing(fxrRoot);
        string? fxr = Directory.Exists(fxrRoot)
            ? SharedFrameworkResolver.Pick(Directory.GetDirectories(fxrRoot).Select(Path.GetFileName).OfType<string>(), "0.0.0", "LatestMajor")
            : null;
        if (fxr is null)
        {
            throw new OciBundleException(Strings.FrameworkNotFound, "hostfxr", "any", dotnetRoot, "none");
        }

        HostTree.Add(context.Plan, Path.Combine(fxrRoot, fxr), $"{ContainerDotnetRoot}/host/fxr/{fxr}", "the .NET host resolver (hostfxr) for a framework-dependent app", context.Inputs);
        string muxer = Path.Combine(dotnetRoot, "dotnet");
        context.Inputs.Path(muxer);
        if (File.Exists(muxer))
        {
            HostTree.Add(context.Plan, muxer, $"{ContainerDotnetRoot}/dotnet", "the dotnet host for a framework-dependent app", context.Inputs);
        }

        return (fxr, new[] { $"{ContainerDotnetRoot}/host/fxr/{fxr}", $"{ContainerDotnetRoot}/dotnet" });
    }
}
