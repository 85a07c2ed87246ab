using OciBundle.Closure;
using OciBundle.Diagnostics;
using OciBundle.Elf;
using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Rootfs;
using OciBundle.Sysroots;

namespace OciBundle.Planning.Steps;

/// <summary>
/// <c>process.args</c>: the user's OciBundleArg, or the app's entry point plus OciBundleAppArg. Only OciBundleArg brings
/// host files in (the programs it names, from the sysroot, as Nix does with store paths, and a script's interpreter);
/// OciBundleAppArg values are strings for the app, whatever they look like.
/// </summary>
internal sealed class ArgsStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        List<string> args = context.Process.Args.Count > 0 ? context.Process.Args.ToList() : EntryPoint(context);
        var programs = new HashSet<string>(StringComparer.Ordinal);
        foreach (string arg in context.Process.Args.Where(a => a.StartsWith('/')).Distinct(StringComparer.Ordinal))
        {
            if (BringIn(context, arg) is { } program)
            {
                programs.Add(program);
            }
        }

        AddInterpreter(context, args[0]);
        context.Args = args;
        context.ArgPrograms = programs;
    }

    /// <summary>The app's entry point (its app host, <c>dotnet app.dll</c> or the executable) and OciBundleAppArg.</summary>
    private static List<string> EntryPoint(PlanContext context)
    {
        string appDir = context.Process.WorkingDirectory;
        string appName = context.Content.AppName;
        string? appHost = context.Content.AppHost is null ? null : ContainerPath.Join(appDir, context.Content.AppHost);
        List<string> args;
        if (appHost is not null && context.Plan.TryGet(appHost, out _))
        {
            args = new List<string> { appHost };
        }
        else if (context.Plan.TryGet(ContainerPath.Join(appDir, appName + ".dll"), out _) && context.FrameworkDependent)
        {
            args = new List<string> { $"{WellKnownPaths.DotnetRoot}/dotnet", ContainerPath.Join(appDir, appName + ".dll") };
        }
        else if (context.Plan.TryGet(ContainerPath.Join(appDir, appName), out _))
        {
            args = new List<string> { ContainerPath.Join(appDir, appName) };
        }
        else
        {
            throw new OciBundleException(Strings.EntryPointNotFound, appName, context.Content.PublishDirectory);
        }

        args.AddRange(context.Process.AppArgs);
        return args;
    }

    /// <summary>
    /// An absolute path OciBundleArg names: the real rootfs path of the program it is (planned already, or brought in
    /// from the sysroot with its closure), or null when it is something else already planned or a mount provides it.
    /// </summary>
    private static string? BringIn(PlanContext context, string arg)
    {
        string path = ContainerPath.Normalize(arg);
        bool planned = context.Plan.TryGet(path, out RootfsEntry entry);
        if (planned && entry.Kind == RootfsEntryKind.File)
        {
            return path;
        }

        if (context.ElfClosure.Resolver.Probe(path) is { InPlan: true } inPlan)
        {
            return inPlan.RealPath;
        }

        if (planned || context.Isolation.Mounts.Any(m => ContainerPath.IsSameOrInside(path, m.Destination)))
        {
            return null; // planned, or provided by a mount when the container runs
        }

        CheckProgram(context.Sysroot, arg, path);
        return context.ElfClosure.AddSysrootPath(path, $"named by OciBundleArg {arg}");
    }

    /// <summary>A program of the sysroot, not a folder or a secret: those enter only through OciBundleFile, named for it.</summary>
    private static void CheckProgram(SysrootView sysroot, string arg, string path)
    {
        ResolvedPath resolved = sysroot.Resolve(path) ?? throw new OciBundleException(Strings.ArgPathNotFound, arg, sysroot.Root);
        string host = sysroot.HostPath(resolved.RealPath);
        if (resolved.IsDirectory)
        {
            throw new OciBundleException(Strings.ArgIsFolder, arg, host);
        }

        NativeMethods.Statx file = NativeMethods.LStat(host) ?? throw new OciBundleException(Strings.ArgPathNotFound, arg, sysroot.Root);

        // Readable by everyone only if everyone can also reach it: a 0644 file in a 0700 folder is a secret too.
        if (HostFileAccess.Problem(host, sysroot.Root, file) is { } problem)
        {
            throw new OciBundleException(Strings.ArgNotWorldReadable, arg, host, problem);
        }

        // A program: executable, or at least ELF or a script. A world-readable data file (a token in a 0644
        // ~/.pypirc) is still not a program, and enters only through OciBundleFile.
        if ((file.Mode & 0b001_001_001) == 0 && ElfFile.TryReadIdentity(host) is null && !StartsWithShebang(host))
        {
            throw new OciBundleException(Strings.ArgNotProgram, arg, host);
        }
    }

    /// <summary>
    /// The interpreter a <c>#!</c> program OciBundleArg names runs with (<c>/bin/sh</c> of a script), brought in from the
    /// sysroot with its closure as the program was: the kernel executes it in its place.
    /// </summary>
    private static void AddInterpreter(PlanContext context, string program)
    {
        if (context.Process.Args.Count == 0 || !program.StartsWith('/') || !context.Plan.TryGet(ContainerPath.Normalize(program), out RootfsEntry entry)
            || entry.Kind != RootfsEntryKind.File || EntryPointCheck.Interpreter(entry) is not { } interpreter || !interpreter.StartsWith('/'))
        {
            return;
        }

        string path = ContainerPath.Normalize(interpreter);
        if (!context.Plan.TryGet(path, out _) && context.ElfClosure.Resolver.Probe(path) is not { InPlan: true } && context.Shadow.Hider(path) is null
            && context.Sysroot.Resolve(path) is { IsDirectory: false })
        {
            context.ElfClosure.AddSysrootPath(path, $"interpreter (#!) of OciBundleArg {program}");
        }
    }

    private static bool StartsWithShebang(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return stream.ReadByte() == '#' && stream.ReadByte() == '!';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
