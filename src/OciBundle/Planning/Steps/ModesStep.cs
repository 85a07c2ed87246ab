using OciBundle.Model;

namespace OciBundle.Planning.Steps;

/// <summary>
/// Every file's mode by what it is (<see cref="FileModes"/>), now that the closure has read every ELF file: the
/// programs among them, their interpreters, the app host and what OciBundleArg names are 0755, the rest 0644,
/// whatever the build machine's umask and caches made of them.
/// </summary>
internal sealed class ModesStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        var programs = new HashSet<string>(context.ElfClosure.Nodes.Values.Where(n => n.File.IsProgram).Select(n => n.RootfsPath), StringComparer.Ordinal);
        programs.UnionWith(context.ElfClosure.Interpreters);
        programs.UnionWith(context.ArgPrograms);
        if (context.Content.AppHost is { } appHost)
        {
            programs.Add(ContainerPath.Join(context.Process.WorkingDirectory, appHost));
        }

        int count = ProgramModes.Apply(context.Plan, programs);
        context.Log($"Modes: {count} programs 0755, every other file 0644, folders 0755 (the build machine's modes and umask do not count).");
    }
}
