using OciBundle.Planning.Steps;
using OciBundle.Request;
using OciBundle.State;

namespace OciBundle.Planning;

/// <summary>
/// Decides the whole bundle from a validated request, before a byte is written: the steps below, in this order, each
/// a class of its own that adds to one plan (<see cref="PlanContext"/>). Nothing is written here; the bundle and image
/// writers write the result.
/// </summary>
internal static class BundlePlanner
{
    /// <summary>
    /// The steps, in the order they run. The ELF closure's roots are registered before the args (an app file for
    /// another machine is found before a mistaken OciBundleArg), and walked once the args have added their programs; the
    /// .NET rules and the package metadata each walk what they add. The modes wait for every ELF file to be read, the
    /// checks for the environment, and the SBOM, the last file planned, for every other file.
    /// </summary>
    public static readonly IReadOnlyList<IPlanStep> Steps = new IPlanStep[]
    {
        new SysrootStep(),
        new BaseStep(),
        new CreationTimeStep(),
        new LoaderStep(),
        new AppStep(),
        new FrameworksStep(),
        new UserFilesStep(),
        new ClosureRootsStep(),
        new ArgsStep(),
        new ClosureStep(),
        new DotnetRulesStep(),
        new PackageMetadataStep(),
        new SystemFilesStep(),
        new ModesStep(),
        new EnvironmentStep(),
        new ChecksStep(),
        new RuntimeSpecStep(),
        new SourcesStep(),
        new SbomStep(),
        new OwnerCacheStep(),
        new OwnershipStep(),
        new BaseFilesStep(),
    };

    /// <summary>
    /// After the sysroot step: the sysroot's dpkg database, which the time zone rule and the SBOM read, opened on another
    /// core while the app, the frameworks and the closure are planned (and its package lists read, when no answers are
    /// remembered for them): the plan reads it through the same Lazy and lock, so it is read once, and a step that needs
    /// it first waits for it. Null for any other step, or when no step will read it.
    /// </summary>
    private static Task? Prefetch(IPlanStep step, PlanContext context) =>
        step is SysrootStep && (context.Content.Sbom || context.Content.IncludeTimeZoneData)
            ? Task.Run(() => context.Packages.Value?.ReadListsIfForgotten(), CancellationToken.None)
            : null;

    /// <summary>Plans the bundle.</summary>
    /// <param name="request">What to build.</param>
    /// <param name="log">Detail messages.</param>
    /// <param name="previous">The last publish's state: its SBOM digests by source (an unchanged source is not hashed again) and its commit's time.</param>
    /// <param name="cancel">Ctrl+C.</param>
    public static BundleLayout Plan(BundleRequest request, Action<string> log, BuildState? previous = null, CancellationToken cancel = default)
    {
        var context = new PlanContext(request, log, previous, cancel);
        var times = new List<string>(Steps.Count);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Task? packages = null;
        try
        {
            foreach (IPlanStep step in Steps)
            {
                TimeSpan start = clock.Elapsed;
                step.Run(context);
                packages ??= Prefetch(step, context);
                if (step is UserFilesStep)
                {
                    context.SbomInputs = SbomPrefetch.Start(context);
                }
                else if (step is DotnetRulesStep)
                {
                    context.SbomInputs?.More(context);
                }

                times.Add($"{step.GetType().Name.Replace("Step", "", StringComparison.Ordinal)} {(clock.Elapsed - start).TotalMilliseconds.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)}");
            }
        }
        finally
        {
            // Never outlives the plan, failed or not: what it records in the ledger is in it before the state is taken;
            // nor does git's answer.
            if (context.HasCreated)
            {
                context.CreatedPending.Settle();
            }

            context.SbomInputs?.Stop();
            try
            {
                packages?.Wait(CancellationToken.None);
            }
            catch (AggregateException)
            {
                // Its failure is the Lazy's, rethrown to the step that asked (or unasked: nothing lost).
            }
        }

        // Where a plan's time went, at detailed verbosity: what to look at when a publish is slow.
        log($"Planned in {clock.Elapsed.TotalMilliseconds.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)} ms (ms per step: {string.Join(", ", times)}).");

        return new BundleLayout(context.Plan.Seal(), context.Config, context.Args, context.Environment, context.ElfClosure.Omitted, context.Inputs)
        {
            Sbom = context.Sbom,
            AppLibraries = context.AppLibraries,
            SourceDigests = context.SourceDigests,
            Sysroot = context.Materialized,
            Warnings = context.ElfClosure.Warnings,
            Paths = context.Paths,
            Created = context.Created,
            CommitDate = context.CreatedPending.Record,
            Base = context.Base,
            Process = context.Process,
            FromBase = context.FromBase,
        };
    }
}
