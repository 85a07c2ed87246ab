using OciBundle.Dotnet;
using OciBundle.Model;

namespace OciBundle.Planning.Steps;

/// <summary>What .NET opens with <c>dlopen</c> (ICU, OpenSSL, GSSAPI) and the data it reads (certificates, time zones), walked in turn.</summary>
internal sealed class DotnetRulesStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        string entryExecutable = ContainerPath.Join(context.Process.WorkingDirectory, context.Content.AppHost ?? context.Content.AppName);
        var options = new DotnetRuleOptions(context.Process.InvariantGlobalization, context.Content.IncludeGssapi, context.Content.IncludeTimeZoneData, entryExecutable);
        DotnetRuntimeRules.Apply(context.ElfClosure, options, context.AppRuntimeConfig, context.Packages, context.Log);
        context.ElfClosure.Complete();
    }
}
