using OciBundle.Diagnostics;

namespace OciBundle.Request;

/// <summary>The mistakes one parse found, each with its own code: all are reported at once, before anything is written.</summary>
internal sealed class ParseErrors
{
    private readonly List<OciBundleException> _errors = new();

    public IReadOnlyList<OciBundleException> All => _errors;

    public void Add(Diagnostic diagnostic, params object?[] args) => _errors.Add(new OciBundleException(diagnostic, args));

    public void Add(OciBundleException error) => _errors.Add(error);

    /// <summary>A value the targets always give (their default when the project sets none): empty means the engine was called without it.</summary>
    public string Required(string? value, string property)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            Add(Strings.RequiredValueMissing, property);
            return "";
        }

        return value.Trim();
    }
}

/// <summary>
/// A boolean property as this product reads it: <c>true</c> or <c>false</c>, in any case, nothing else. MSBuild itself
/// would also take <c>yes</c>, <c>on</c> or <c>!false</c> for a boolean task parameter (and give an uncoded MSB4030 for
/// anything else); a typo must never pass for a choice.
/// </summary>
internal static class BooleanText
{
    /// <summary>Untrimmed, as MSBuild compares them: ' true' would be neither true nor false to MSBuild's conditions.</summary>
    public static bool? Parse(string? value) => value?.ToLowerInvariant() switch
    {
        "true" => true,
        "false" => false,
        _ => null,
    };
}
