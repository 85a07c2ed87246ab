namespace OciBundle.Planning;

/// <summary>
/// One step of the plan (<see cref="BundlePlanner"/> lists them in the order they run): it reads the request and what
/// the steps before it left in the context, adds to the plan, and leaves its own result for the steps after it.
/// </summary>
internal interface IPlanStep
{
    void Run(PlanContext context);
}
