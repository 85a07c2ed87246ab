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
    private readonly List<PortableRoot> _roots = new();

    /// <param name="projectDirectory">The project's folder, or null when unknown (no relative paths then).</param>
    /// <param name="placeholders">Each root with the name it is written as (<c>$(NuGetPackageRoot)</c>); null or relative roots are left out.</param>
    public PortablePaths(string? projectDirectory, (string Name, string? Root)[] placeholders)
    {
        // A loop and a class, not LINQ over tuples: those are compiled on every publish (framework generics over a
        // value type fall outside the task's precompiled code), 50 methods for three roots.
        for (int i = 0; i <= placeholders.Length; i++)
        {
            (string name, string? root) = i < placeholders.Length ? placeholders[i] : ("", projectDirectory);
            if (string.IsNullOrWhiteSpace(root) || !Path.IsPathFullyQualified(root))
            {
                continue;
            }

            string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
            if (full != "/")
            {
                _roots.Add(new PortableRoot(full, name));
            }
        }

        _roots.Sort((a, b) => a.Root.Length != b.Root.Length ? b.Root.Length.CompareTo(a.Root.Length)
            : string.CompareOrdinal(a.Name, b.Name) is var byName and not 0 ? byName
            : string.CompareOrdinal(a.Root, b.Root));
    }

    /// <summary>The path as provenance.json writes it.</summary>
    public string Of(string path)
    {
        foreach (PortableRoot portable in _roots)
        {
            (string root, string name) = (portable.Root, portable.Name);
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

/// <summary>A root of <see cref="PortablePaths"/> and the name it is written as.</summary>
internal sealed record PortableRoot(string Root, string Name);
