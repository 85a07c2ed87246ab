namespace OciBundle.Request;

/// <summary>
/// The one rule for a property that holds a list (<c>OciImageTags</c>, <c>OciImageInsecureRegistries</c>,
/// <c>OciBundleCapabilities</c>, <c>OciBundleRootCapabilities</c>, <c>OciBundleMaskedPaths</c>,
/// <c>OciBundleReadonlyPaths</c>, an <c>OciBundleMount</c>'s <c>Options</c>): values separated by <c>;</c> (MSBuild's
/// own separator; <c>%3B</c> on the command line) or <c>,</c>, whitespace around each trimmed, empty ones ignored.
/// A value that holds one of them (a path with a comma) is given as an item, which is never split.
/// </summary>
internal static class OptionList
{
    public static readonly char[] Separators = { ';', ',' };

    public static List<string> Split(string? list) =>
        (list ?? "").Split(Separators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
}
