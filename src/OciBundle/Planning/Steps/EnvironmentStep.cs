using OciBundle.Model;
using OciBundle.RuntimeSpec;

namespace OciBundle.Planning.Steps;

/// <summary>
/// <c>process.env</c>: <c>PATH</c>, <c>DOTNET_RUNNING_IN_CONTAINER</c>, <c>DOTNET_ROOT</c> for a framework-dependent app,
/// a web app's <c>ASPNETCORE_HTTP_PORTS</c>, then the user's variables (one with a default's name replaces it in place).
/// </summary>
internal sealed class EnvironmentStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        var env = new List<KeyValuePair<string, string>>
        {
            new("PATH", RuntimeSpecBuilder.DefaultPath),
            new("DOTNET_RUNNING_IN_CONTAINER", "true"),
        };
        if (context.FrameworkDependent)
        {
            env.Add(new("DOTNET_ROOT", WellKnownPaths.DotnetRoot));
        }

        if (context.Process.DefaultHttpPorts is { } ports)
        {
            // As Microsoft's ASP.NET Core images: the app listens on all addresses of its network on these ports, not on localhost:5000.
            env.Add(new("ASPNETCORE_HTTP_PORTS", ports));
        }

        foreach (KeyValuePair<string, string> pair in context.Process.Environment)
        {
            int at = env.FindIndex(e => e.Key == pair.Key);
            if (at >= 0)
            {
                env[at] = pair;
            }
            else
            {
                env.Add(pair);
            }
        }

        context.Environment = env;
    }
}
