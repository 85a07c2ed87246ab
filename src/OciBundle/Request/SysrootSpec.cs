using System.Text.RegularExpressions;
using OciBundle.Diagnostics;

namespace OciBundle.Request;

/// <summary>What <c>OciBundleSysroot</c> names, told apart without reading it: a folder used as it is, an OCI image layout folder, or a file (an OCI archive or a tarball; which one is read when it is unpacked).</summary>
internal enum SysrootForm
{
    Folder,
    OciLayout,
    ArchiveFile,

    /// <summary>An image in a registry (<c>docker://...</c>), pulled into the cache: <see cref="SysrootSpec.Reference"/>.</summary>
    Registry,
}

/// <summary>
/// <c>OciBundleSysroot</c>, <c>OciBundleSysrootDigest</c> and <c>OciBundleSysrootCache</c>, checked: the path exists and
/// its form is known, the pin is a digest, the cache an absolute folder. Parsing only looks at names (stat); it reads and
/// unpacks nothing, so a no-op publish never touches the archive: <see cref="Sysroots.SysrootStore"/> does that for the planner.
/// </summary>
internal sealed record SysrootSpec(string Path, SysrootForm Form, string? Tag, string? PinnedDigest, string? CacheDirectory, ImageReference? Reference = null, bool PlainHttp = false)
{
    private static readonly Regex DigestPattern = new("^sha256:[0-9a-f]{64}$", RegexOptions.CultureInvariant);

    /// <summary>The host's own root: what a build without OciBundleSysroot uses.</summary>
    public static SysrootSpec HostRoot { get; } = new("/", SysrootForm.Folder, null, null, null);

    public bool IsHostRoot => Form == SysrootForm.Folder && Path == "/";

    public static bool IsDigest(string value) => DigestPattern.IsMatch(value);

    /// <param name="value">OciBundleSysroot.</param>
    /// <param name="digest">OciBundleSysrootDigest.</param>
    /// <param name="cache">OciBundleSysrootCache.</param>
    /// <param name="projectDirectory">Against which a relative path is resolved.</param>
    /// <param name="errors">Receives every mistake.</param>
    /// <param name="insecureRegistries">OciImageInsecureRegistries: with the environment's lists, checked as the push checks them (<see cref="PushSpec.ParseInsecureRegistries"/>), only for a registry reference.</param>
    /// <param name="environment">Where OCIBUNDLE_INSECURE_REGISTRIES is read; null: the process's environment.</param>
    public static SysrootSpec Parse(string? value, string? digest, string? cache, string? projectDirectory, ParseErrors errors, IEnumerable<string>? insecureRegistries = null, Func<string, string?>? environment = null)
    {
        string raw = errors.Required(value, "OciBundleSysroot");
        if (raw.Length == 0)
        {
            return HostRoot;
        }

        if (ImageReference.IsReference(raw))
        {
            return ParseReference(raw, digest, cache, errors, PushSpec.ParseInsecureRegistries(insecureRegistries ?? Array.Empty<string>(), environment ?? Environment.GetEnvironmentVariable, errors));
        }

        string? pin = string.IsNullOrWhiteSpace(digest) ? null : digest.Trim();
        if (pin is not null && !IsDigest(pin))
        {
            errors.Add(Strings.InvalidSysrootDigest, digest);
            pin = null;
        }

        string Full(string p) => System.IO.Path.TrimEndingDirectorySeparator(string.IsNullOrEmpty(projectDirectory) ? System.IO.Path.GetFullPath(p) : System.IO.Path.GetFullPath(p, projectDirectory));

        SysrootSpec? spec = null;
        string full = Full(raw);
        if (Directory.Exists(full))
        {
            bool layout = File.Exists(System.IO.Path.Combine(full, "oci-layout"));
            spec = new SysrootSpec(full.Length == 0 ? "/" : full, layout ? SysrootForm.OciLayout : SysrootForm.Folder, null, pin, null);
        }
        else if (File.Exists(full))
        {
            spec = new SysrootSpec(full, SysrootForm.ArchiveFile, null, pin, null);
        }
        else if (raw.LastIndexOf(':') is int colon and > 0 && colon < raw.Length - 1 && !raw[(colon + 1)..].Contains('/'))
        {
            // folder:tag, as skopeo and umoci write an OCI layout reference.
            string folder = Full(raw[..colon]);
            if (File.Exists(System.IO.Path.Combine(folder, "oci-layout")))
            {
                spec = new SysrootSpec(folder, SysrootForm.OciLayout, raw[(colon + 1)..], pin, null);
            }
        }

        if (spec is null)
        {
            errors.Add(Strings.SysrootNotFound, value);
            return HostRoot;
        }

        if (spec.Form == SysrootForm.Folder)
        {
            if (pin is not null)
            {
                errors.Add(Strings.SysrootDigestNeedsArchive, spec.Path);
            }

            return spec;
        }

        string? cacheDir = string.IsNullOrWhiteSpace(cache) ? null : cache.Trim();
        if (cacheDir is null || !System.IO.Path.IsPathRooted(cacheDir))
        {
            errors.Add(Strings.InvalidSysrootCache, cache ?? "", value);
            return spec;
        }

        return spec with { CacheDirectory = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(cacheDir)) };
    }

    /// <summary><c>docker://...</c>: the reference, its pin (the reference's digest, or OciBundleSysrootDigest), the transport, the cache.</summary>
    private static SysrootSpec ParseReference(string raw, string? digest, string? cache, ParseErrors errors, IReadOnlyList<string> insecureRegistries)
    {
        if (ImageReference.Parse(raw, out string why) is not { } reference)
        {
            int at = raw.LastIndexOf('@');
            errors.Add(Strings.InvalidSysrootReference, why.StartsWith("it holds user information", StringComparison.Ordinal) ? "docker://***@" + raw[(at + 1)..] : raw, why);
            return HostRoot;
        }

        string? pin = string.IsNullOrWhiteSpace(digest) ? null : digest.Trim();
        if (pin is not null && !IsDigest(pin))
        {
            errors.Add(Strings.InvalidSysrootDigest, digest);
            pin = null;
        }
        else if (pin is not null && reference.Digest is { } pinned && pinned != pin)
        {
            errors.Add(Strings.SysrootReferencePinConflict, raw, pinned, pin);
        }

        string? cacheDir = string.IsNullOrWhiteSpace(cache) ? null : cache.Trim();
        if (cacheDir is null || !System.IO.Path.IsPathRooted(cacheDir))
        {
            errors.Add(Strings.InvalidSysrootCache, cache ?? "", raw);
            return HostRoot;
        }

        bool plainHttp = insecureRegistries.Contains(reference.Registry, StringComparer.OrdinalIgnoreCase);
        return new SysrootSpec(reference.ToString(), SysrootForm.Registry, reference.Tag, reference.Digest ?? pin, System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(cacheDir)), reference, plainHttp);
    }
}
