using System.Text;
using OciBundle.Closure;

namespace OciBundle.Rootfs;

/// <summary>
/// What vulnerability scanners read to know what is in a root file system, from the sysroot: the distribution's
/// release files (<c>/etc/os-release</c>, <c>/etc/debian_version</c>) and, for every dpkg package that contributed
/// a file, its stanza of the sysroot's <c>var/lib/dpkg/status</c> as <c>/var/lib/dpkg/status.d/&lt;package&gt;</c>
/// (the distroless convention, which Trivy, Grype and Syft read). Without it a minimal bundle looks clean because it
/// is invisible. The .NET side needs nothing added: the app's <c>*.deps.json</c> and the shared frameworks'
/// <c>.deps.json</c> are part of the publish output and the frameworks.
/// </summary>
internal static class PackageMetadata
{
    public const string StatusDirectory = "/var/lib/dpkg/status.d";

    // The fields a scanner matches advisories on, in dpkg's order; the rest (descriptions, dependencies) is left out.
    private static readonly string[] KeptFields = { "Package", "Status", "Priority", "Section", "Installed-Size", "Maintainer", "Architecture", "Multi-Arch", "Source", "Version" };

    /// <summary>Adds the release files and the status.d stanzas to the plan; the packages' names, or null without a dpkg database.</summary>
    public static IReadOnlyList<string>? Add(IClosure closure, RootfsPlan plan, PackageDatabase? packages, Action<string> log)
    {
        Sysroot sysroot = closure.Sysroot;
        foreach (string release in new[] { "/etc/os-release", "/usr/lib/os-release", "/etc/debian_version" })
        {
            closure.AddSysrootPath(release, "the distribution, as scanners recognise it (OciBundleSbom)");
        }

        string statusPath = sysroot.HostPath("/var/lib/dpkg/status");
        if (packages is null || !File.Exists(statusPath))
        {
            log("The sysroot has no dpkg database (var/lib/dpkg): no package metadata for scanners in rootfs.");
            return null;
        }

        sysroot.Inputs?.Path(statusPath);
        var contributed = new SortedSet<string>(StringComparer.Ordinal);
        foreach (RootfsEntry entry in plan.Entries.Where(e => e.Kind != RootfsEntryKind.Directory))
        {
            if (packages.OwnerOf(entry.Path) is { } package)
            {
                contributed.Add(package);
            }
        }

        Dictionary<string, string> stanzas = Stanzas(File.ReadAllText(statusPath));
        var written = new List<string>();
        foreach (string package in contributed)
        {
            string name = package.Split(':')[0];
            if (!stanzas.TryGetValue(package, out string? stanza) && !stanzas.TryGetValue(name, out stanza))
            {
                continue; // listed but not in status: a package being removed
            }

            if (plan.TryGet($"{StatusDirectory}/{name}", out _))
            {
                continue; // the same package for two architectures: the first one's
            }

            plan.AddContent($"{StatusDirectory}/{name}", Encoding.UTF8.GetBytes(stanza), (UnixFileMode)0b110_100_100, $"package metadata for scanners: dpkg status of {name}, which owns files in rootfs (OciBundleSbom)");
            written.Add(name);
        }

        return written;
    }

    /// <summary>The installed packages' stanzas, trimmed, by <c>name</c> and <c>name:arch</c>.</summary>
    private static Dictionary<string, string> Stanzas(string status)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string block in status.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (string line in block.Split('\n'))
            {
                int colon = line.IndexOf(':');
                if (colon > 0 && !char.IsWhiteSpace(line[0]))
                {
                    fields[line[..colon]] = line[(colon + 1)..].Trim();
                }
            }

            if (!fields.TryGetValue("Package", out string? name) || !fields.TryGetValue("Status", out string? state) || !state.EndsWith(" installed", StringComparison.Ordinal))
            {
                continue;
            }

            var text = new StringBuilder();
            foreach (string field in KeptFields.Where(fields.ContainsKey))
            {
                text.Append(field).Append(": ").Append(fields[field]).Append('\n');
            }

            result.TryAdd(name, text.ToString());
            if (fields.TryGetValue("Architecture", out string? arch))
            {
                result.TryAdd($"{name}:{arch}", text.ToString());
            }
        }

        return result;
    }
}
