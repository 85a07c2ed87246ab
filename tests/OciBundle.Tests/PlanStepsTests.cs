using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Planning;
using OciBundle.Planning.Steps;
using OciBundle.Request;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// The planner's steps (<see cref="BundlePlanner.Steps"/>) over their shared <see cref="PlanContext"/>: every step is
/// listed once, and a list out of order fails loudly, naming the step that makes what was read too early.
/// </summary>
[TestClass]
public sealed class PlanStepsTests
{
    private static TempDirectory _dir = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _dir = new TempDirectory();
        Directory.CreateDirectory(_dir.Combine("publish"));
        File.WriteAllText(_dir.Combine("publish", "Hello"), "#!/bin/sh\n"); // an app host (not ELF: no closure needed)
        File.SetUnixFileMode(_dir.Combine("publish", "Hello"), (UnixFileMode)0b111_101_101);
    }

    [ClassCleanup]
    public static void Cleanup() => _dir.Dispose();

    [TestMethod]
    public void EveryStepClassIsListedOnce()
    {
        var listed = BundlePlanner.Steps.Select(s => s.GetType()).ToList();
        var declared = typeof(IPlanStep).Assembly.GetTypes().Where(t => typeof(IPlanStep).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface).ToList();
        CollectionAssert.AllItemsAreUnique(listed, "a step listed twice would add its files twice");
        CollectionAssert.AreEquivalent(declared, listed, "a step class not in BundlePlanner.Steps never runs");
    }

    [TestMethod]
    public void AStepThatReadsAResultBeforeItsStepRanThrowsNamingThatStep()
    {
        PlanContext context = NewContext();
        new SysrootStep().Run(context);
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => new ModesStep().Run(context)); // reads the closure, which LoaderStep makes
        StringAssert.Contains(e.Message, "(LoaderStep)");
        StringAssert.Contains(e.Message, "out of order");
    }

    [TestMethod]
    public void AResultIsSetByOneStepOnly()
    {
        PlanContext context = NewContext();
        new SysrootStep().Run(context);
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => new SysrootStep().Run(context));
        StringAssert.Contains(e.Message, "twice");
    }

    [TestMethod]
    public void TheListedStepsInTheirOrderPlanTheBundle()
    {
        PlanContext context = NewContext();
        foreach (IPlanStep step in BundlePlanner.Steps)
        {
            step.Run(context);
        }

        Assert.AreEqual("/app/Hello", context.Args.Single());
        Assert.IsTrue(context.Plan.TryGet("/etc/passwd", out _) && context.Plan.TryGet("/app/Hello", out _));
        Assert.IsTrue(context.Config.Length > 0);
    }

    private static PlanContext NewContext()
    {
        BundleOptions options = TargetDefaults.Options(_dir.Combine("publish"), _dir.Combine("bundle"), "Hello", "Hello");
        options.RuntimeIdentifier = "linux-x64";
        options.Sbom = false;
        return new PlanContext(BundleRequest.Parse(options), _ => { }, null, CancellationToken.None);
    }
}
