using System.Text;
using OciBundle.Closure;
using OciBundle.Model;
using OciBundle.Sysroots;

namespace OciBundle.Planning;

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

    /// <summary>Adds the release files and the status.d stanzas to the plan; the packages' names, or null without a dpkg database.</summary>
    /// <param name="closure">The closure, which brings the release files in from the sysroot.</param>
    /// <param name="plan">The plan so far.</param>
    /// <param name="packages">The sysroot's dpkg database, or null.</param>
    /// <param name="fromSysroot">
    /// Whether a planned file came from the sysroot: only those make a package installed. The app's files, the
    /// shared frameworks and OciBundleFile items do not, even where a package of the sysroot lists the same path (the
    /// user's own /etc/ssl/openssl.cnf does not install openssl).
    /// </param>
    /// <param name="log">Detail messages.</param>
    public static IReadOnlyList<string>? Add(IClosure closure, RootfsPlan plan, PackageDatabase? packages, Func<RootfsEntry, bool> fromSysroot, Action<string> log)
    {
        SysrootView sysroot = closure.Sysroot;
        foreach (string release in new[] { "/etc/os-release", "/usr/lib/os-release", "/etc/debian_version" })
        {
            closure.AddSysrootData(release, "the distribution, as scanners recognise it (OciBundleSbom)");
        }

        if (packages is { HasStatus: false })
        {
            log("The sysroot's dpkg database has no status file (var/lib/dpkg/status): no package metadata for scanners in rootfs, and the SBOM lists its files without a package.");
            return null;
        }

        if (packages is null)
        {
            log("The sysroot has no dpkg database (var/lib/dpkg/status and info/): no package metadata for scanners in rootfs, and the SBOM lists its files without a package.");
            return null;
        }

        var contributed = new SortedSet<string>(StringComparer.Ordinal);
        // Regular files only: a package that put nothing but a link in rootfs (openssl's /usr/lib/ssl/cert.pem) is not
        // installed there, and a scanner told it is would report that program's advisories.
        foreach (RootfsEntry entry in plan.Entries.Where(e => e.Kind == RootfsEntryKind.File && fromSysroot(e)))
        {
            if (packages.OwnerOf(entry.Path) is { } package)
            {
                contributed.Add(package);
            }
        }

        var written = new List<string>();
        foreach (string package in contributed)
        {
            if (packages.Installed(package) is not { } installed)
            {
                continue; // listed but not in status: a package being removed
            }

            if (written.Contains(installed.Name))
            {
                continue; // the same package for two architectures: the first one's
            }

            // A path the user's OciBundleFile already took is a conflict (OCIB2004), never silently the user's stanza.
            plan.AddContent($"{StatusDirectory}/{installed.Name}", Encoding.UTF8.GetBytes(installed.Stanza), (UnixFileMode)0b110_100_100, $"package metadata for scanners: dpkg status of {installed.Name}, which owns files in rootfs (OciBundleSbom)");
            written.Add(installed.Name);
        }

        return written;
    }
}
