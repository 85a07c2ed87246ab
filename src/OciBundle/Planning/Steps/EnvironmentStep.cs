using OciBundle.Model;
using OciBundle.RuntimeSpec;

namespace OciBundle.Planning.Steps;

/// <summary>
/// <c>process.env</c>: <c>PATH</c>, <c>DOTNET_RUNNING_IN_CONTAINER</c>, <c>DOTNET_ROOT</c> for a framework-dependent app,
/// a web app's <c>ASPNETCORE_HTTP_PORTS</c>, then the user's variables (one with a default's name replaces it in place).
/// With a base image, its <c>Env</c> comes first: its <c>PATH</c> is kept, the product's other variables and then the
/// user's replace one of the same name in place, or follow.
/// </summary>
internal sealed class EnvironmentStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        var env = new List<KeyValuePair<string, string>>();
        foreach (string variable in context.Base?.Config.Config?.Env ?? Array.Empty<string>())
        {
            int equals = variable.IndexOf('=', StringComparison.Ordinal);
            Set(env, equals > 0 ? new(variable[..equals], variable[(equals + 1)..]) : new(variable, ""));
        }

        if (!env.Exists(e => e.Key == "PATH"))
        {
            env.Add(new("PATH", RuntimeSpecBuilder.DefaultPath));
        }

        Set(env, new("DOTNET_RUNNING_IN_CONTAINER", "true"));
        if (context.FrameworkDependent)
        {
            Set(env, new("DOTNET_ROOT", WellKnownPaths.DotnetRoot));
        }

        if (context.Process.DefaultHttpPorts is { } ports)
        {
            // As Microsoft's ASP.NET Core images: the app listens on all addresses of its network on these ports, not on localhost:5000.
            Set(env, new("ASPNETCORE_HTTP_PORTS", ports));
        }

        foreach (KeyValuePair<string, string> pair in context.Process.Environment)
        {
            Set(env, pair);
        }

        context.Environment = env;
    }

    /// <summary>Replaces the variable of the same name in place, or adds it at the end.</summary>
    private static void Set(List<KeyValuePair<string, string>> env, KeyValuePair<string, string> pair)
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
}
