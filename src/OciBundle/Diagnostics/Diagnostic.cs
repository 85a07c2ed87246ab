using System.Globalization;
using System.Resources;

namespace OciBundle.Diagnostics;

/// <summary>
/// One error or warning the product can report. Its text lives in <c>Strings.resx</c> as
/// <c>"OCIBnnnn: message"</c>; the code is the part before the colon, so the code and its message cannot drift apart.
/// </summary>
internal sealed class Diagnostic
{
    private static readonly ResourceManager Resources = new("OciBundle.Diagnostics.Strings", typeof(Diagnostic).Assembly);

    internal Diagnostic(string name)
    {
        Name = name;
        string text = Resources.GetString(name, CultureInfo.InvariantCulture)
            ?? throw new InvalidOperationException($"Strings.resx has no entry '{name}'.");
        int colon = text.IndexOf(": ", StringComparison.Ordinal);
        if (colon != 8 || !text.StartsWith("OCIB", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Strings.resx entry '{name}' does not start with 'OCIBnnnn: '.");
        }

        Code = text[..colon];
        Template = text[(colon + 2)..];
    }

    /// <summary>The resource name, e.g. <c>NonLinuxRuntimeIdentifier</c>.</summary>
    public string Name { get; }

    /// <summary>The stable code, e.g. <c>OCIB1001</c>.</summary>
    public string Code { get; }

    /// <summary>The message with <c>{0}</c>-style placeholders, without the code.</summary>
    public string Template { get; }

    public string Format(params object?[] args) => string.Format(CultureInfo.InvariantCulture, Template, args);

    /// <summary>Finds a diagnostic by resource name (used by the targets through the task).</summary>
    public static Diagnostic Get(string name) => Strings.All.FirstOrDefault(d => d.Name == name)
        ?? throw new ArgumentException($"Unknown diagnostic '{name}'.", nameof(name));
}
