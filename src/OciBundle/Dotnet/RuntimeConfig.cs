using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace OciBundle.Dotnet;

/// <summary>What the bundle needs from an app's <c>*.runtimeconfig.json</c>: its shared frameworks and its globalization mode.</summary>
internal sealed class RuntimeConfig
{
    private RuntimeConfig(IReadOnlyList<FrameworkReference> frameworks, bool isSelfContained, bool invariantGlobalization, bool appLocalIcu, string rollForward)
    {
        Frameworks = frameworks;
        IsSelfContained = isSelfContained;
        InvariantGlobalization = invariantGlobalization;
        AppLocalIcu = appLocalIcu;
        RollForward = rollForward;
    }

    /// <summary>The shared frameworks a framework-dependent app runs on (empty for a self-contained app).</summary>
    public IReadOnlyList<FrameworkReference> Frameworks { get; }

    /// <summary>True when the file lists <c>includedFrameworks</c>: the runtime is in the publish output.</summary>
    public bool IsSelfContained { get; }

    /// <summary><c>System.Globalization.Invariant</c>: the app never loads ICU.</summary>
    public bool InvariantGlobalization { get; }

    /// <summary><c>System.Globalization.AppLocalIcu</c>: the app carries its own ICU.</summary>
    public bool AppLocalIcu { get; }

    /// <summary>The roll-forward policy the host applies to framework versions (default <c>Minor</c>).</summary>
    public string RollForward { get; }

    /// <summary>Reads a runtimeconfig.json; a file that is not JSON is an <see cref="InvalidDataException"/> (no JSON library type leaves this class).</summary>
    public static RuntimeConfig Read(string path)
    {
        JObject root;
        try
        {
            using var reader = new JsonTextReader(File.OpenText(path));
            root = JObject.Load(reader, new JsonLoadSettings { CommentHandling = CommentHandling.Ignore });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(e.Message, e);
        }

        var options = root["runtimeOptions"] as JObject ?? new JObject();
        var frameworks = new List<FrameworkReference>();
        if (options["framework"] is JObject single)
        {
            frameworks.Add(FrameworkReference.From(single));
        }

        if (options["frameworks"] is JArray many)
        {
            frameworks.AddRange(many.OfType<JObject>().Select(FrameworkReference.From));
        }

        var props = options["configProperties"] as JObject;
        return new RuntimeConfig(
            frameworks,
            options["includedFrameworks"] is JArray,
            IsTrue(props?["System.Globalization.Invariant"]),
            props?["System.Globalization.AppLocalIcu"] is { Type: not JTokenType.Null } icu && icu.ToString().Length > 0,
            (string?)options["rollForward"] ?? "Minor");
    }

    private static bool IsTrue(JToken? token) =>
        token is not null && (token.Type == JTokenType.Boolean ? (bool)token : string.Equals(token.ToString(), "true", StringComparison.OrdinalIgnoreCase));
}

/// <summary>A shared framework an app names: <c>Microsoft.NETCore.App</c> 10.0.0, say.</summary>
internal sealed record FrameworkReference(string Name, string Version, string? RollForward)
{
    internal static FrameworkReference From(JObject o) => new((string?)o["name"] ?? "", (string?)o["version"] ?? "", (string?)o["rollForward"]);
}
