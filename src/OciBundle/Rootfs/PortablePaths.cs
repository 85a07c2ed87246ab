namespace OciBundle.Rootfs;

/// <summary>
/// Host paths as <c>provenance.json</c> names them, so two builds of one commit write the same bytes wherever the
/// checkout, the NuGet folder and the caches are: inside the project, relative to it
/// (<c>bin/Release/net10.0/linux-x64/publish/app.dll</c>); under a folder each machine and user has its own of, as
/// the MSBuild property that names it (<c>$(NuGetPackageRoot)/...</c>, <c>$(OciBundleSysrootCache)/...</c>,
/// <c>$(NetCoreRoot)/...</c>); anything else as it is (the build machine's own <c>/usr/lib/...</c>, which is the
/// same path on every machine). The deepest root that holds a path names it. <see cref="Describe"/> gives the
/// absolute roots for the log.
/// </summary>
internal sealed class PortablePaths
{
    /// <summary>Roots, deepest first; an empty name is the project (relative paths).</summary>
    private readonly List<(string Root, string Name)> _roots;

    /// <param name="projectDirectory">The project's folder, or null when unknown (no relative paths then).</param>
    /// <param name="placeholders">Each root with the name it is written as (<c>$(NuGetPackageRoot)</c>); null or relative roots are left out.</param>
    public PortablePaths(string? projectDirectory, IEnumerable<(string Name, string? Root)> placeholders)
    {
        _roots = placeholders
            .Append((Name: "", Root: projectDirectory))
            .Where(p => !string.IsNullOrWhiteSpace(p.Root) && Path.IsPathFullyQualified(p.Root))
            .Select(p => (Root: Path.TrimEndingDirectorySeparator(Path.GetFullPath(p.Root!)), p.Name))
            .Where(p => p.Root != "/")
            .OrderByDescending(p => p.Root.Length)
            .ThenBy(p => p.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The path as provenance.json writes it.</summary>
    public string Of(string path)
    {
        foreach ((string root, string name) in _roots)
        {
            if (path == root)
            {
                return name.Length == 0 ? "." : name;
            }

            if (path.StartsWith(root + "/", StringComparison.Ordinal))
            {
                string rest = path[(root.Length + 1)..];
                return name.Length == 0 ? rest : name + "/" + rest;
            }
        }

        return path;
    }

    /// <summary>What each name stands for on this machine, for the detailed log: <c>project = /src/app, $(NuGetPackageRoot) = /root/.nuget/packages</c>.</summary>
    public string Describe() =>
        string.Join(", ", _roots.Select(r => $"{(r.Name.Length == 0 ? "relative paths" : r.Name)} = {r.Root}"));
}
