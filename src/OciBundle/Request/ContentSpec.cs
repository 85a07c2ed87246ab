using OciBundle.Model;
using OciBundle.Diagnostics;

namespace OciBundle.Request;

/// <summary>What goes into rootfs: the app, the extra files, and where native libraries and data come from.</summary>
internal sealed record ContentSpec(
    string PublishDirectory,
    string AppName,
    string? AppHost,
    IReadOnlyList<string> RuntimeFiles,
    IReadOnlyList<FileSpec> Files,
    TargetArchitecture Arch,
    SysrootSpec Sysroot,
    string? DotnetRoot,
    bool IncludeTimeZoneData,
    bool IncludeGssapi,
    bool Sbom,
    string? NuGetPackageRoot,
    IReadOnlyList<KeyValuePair<string, string>> RuntimePacks,
    string DepsFile,
    string? CacheDirectory,
    string? ProjectDirectory = null,
    SysrootSpec? Base = null)
{
    public static ContentSpec Parse(BundleOptions o, string workingDirectory, ParseErrors errors, List<OciBundleException> warnings)
    {
        string os = errors.Required(o.OS, "OciBundleOS");
        if (os.Length > 0 && os != "linux")
        {
            errors.Add(Strings.UnsupportedOS, o.OS);
        }

        if (!string.IsNullOrEmpty(o.RuntimeIdentifier) && !o.RuntimeIdentifier.StartsWith("linux", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(Strings.NonLinuxRuntimeIdentifier, o.RuntimeIdentifier);
        }

        string publish = string.IsNullOrWhiteSpace(o.PublishDirectory) ? "" : Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.PublishDirectory));
        if (publish.Length == 0 || !Directory.Exists(publish))
        {
            errors.Add(Strings.PublishDirectoryNotFound, o.PublishDirectory);
        }

        SysrootSpec sysroot = SysrootSpec.Parse(o.Sysroot, o.SysrootDigest, o.SysrootCache, o.ProjectDirectory, errors, o.InsecureRegistries);
        SysrootSpec? baseImage = ParseBase(o, errors);

        return new ContentSpec(
            publish,
            o.AppName,
            string.IsNullOrEmpty(o.AppHost) ? null : o.AppHost,
            new Seq<string>(o.RuntimeFiles.Select(f => ContainerPath.Normalize(workingDirectory + "/" + f.Replace('\\', '/')))),
            new Seq<FileSpec>(o.Files.Select(f => FileSpec.Parse(f, workingDirectory, errors)).OfType<FileSpec>()),
            ParseArch(o.Arch, o.RuntimeIdentifier, errors, warnings),
            sysroot,
            string.IsNullOrWhiteSpace(o.DotnetRoot) ? null : Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.DotnetRoot)),
            o.IncludeTimeZoneData,
            o.IncludeGssapi,
            o.Sbom,
            string.IsNullOrWhiteSpace(o.NuGetPackageRoot) ? null : Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.NuGetPackageRoot)),
            new Seq<KeyValuePair<string, string>>(o.RuntimePacks.Where(p => p.Key.Length > 0 && p.Value.Length > 0)),
            string.IsNullOrWhiteSpace(o.DepsFile) ? Path.Combine(publish, o.AppName + ".deps.json") : Path.GetFullPath(o.DepsFile),
            string.IsNullOrWhiteSpace(o.CacheDirectory) ? null : Path.GetFullPath(o.CacheDirectory),
            string.IsNullOrWhiteSpace(o.ProjectDirectory) ? null : Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.ProjectDirectory)),
            baseImage);
    }

    /// <summary>Whether OciBundleSysroot names the base image itself (then it is materialized once, for both).</summary>
    public bool SysrootIsBase => Base is { } b && b.Form == Sysroot.Form && b.Path == Sysroot.Path && b.Tag == Sysroot.Tag;

    /// <summary><c>OciImageBase</c>, read by the sysroot's rules (the same forms, cache and insecure registries); a plain folder is no image (OCIB1651).</summary>
    private static SysrootSpec? ParseBase(BundleOptions o, ParseErrors errors)
    {
        if (string.IsNullOrWhiteSpace(o.ImageBase))
        {
            return null;
        }

        var parsed = new ParseErrors();
        SysrootSpec spec = SysrootSpec.Parse(o.ImageBase.Trim(), null, o.SysrootCache, o.ProjectDirectory, parsed, o.InsecureRegistries);
        foreach (OciBundleException e in parsed.All)
        {
            errors.Add(e.Naming("OciImageBase")); // read by the sysroot's rules, but not OciBundleSysroot's value
        }

        if (spec.Form == SysrootForm.Folder && !spec.IsHostRoot)
        {
            errors.Add(Strings.BaseImageNotAnImage, o.ImageBase, "a folder");
        }

        return spec.IsHostRoot ? null : spec;
    }

    /// <summary>
    /// The bundle's architecture: <c>OciBundleArch</c> (a GOARCH name; an alias with a warning), else the
    /// RuntimeIdentifier's, else this machine's: computed here, since only the engine can tell them apart.
    /// </summary>
    private static TargetArchitecture ParseArch(string? arch, string? rid, ParseErrors errors, List<OciBundleException> warnings)
    {
        TargetArchitecture? ridArch = string.IsNullOrEmpty(rid) ? null : TargetArchitecture.FromRuntimeIdentifier(rid);
        TargetArchitecture fallback = TargetArchitecture.Find("amd64", out _)!;
        if (string.IsNullOrWhiteSpace(arch))
        {
            TargetArchitecture? machine = ridArch ?? TargetArchitecture.Find(System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(), out _);
            if (machine is null)
            {
                errors.Add(Strings.UnknownArch, rid ?? arch, string.Join(", ", TargetArchitecture.GoArchNames));
            }

            return machine ?? fallback;
        }

        if (TargetArchitecture.Find(arch, out string? alias) is not { } found)
        {
            errors.Add(Strings.UnknownArch, arch, string.Join(", ", TargetArchitecture.GoArchNames));
            return fallback;
        }

        if (alias is not null)
        {
            warnings.Add(new OciBundleException(Strings.ArchNormalized, alias, found.GoArch));
        }

        if (ridArch is not null && ridArch != found)
        {
            errors.Add(Strings.ArchDisagreesWithRuntimeIdentifier, arch, rid, ridArch.GoArch);
        }

        return found;
    }
}

/// <summary>One <c>OciBundleFile</c>: an existing host file or folder, a container path inside rootfs, and the mode its files get (null: the product's rule).</summary>
internal sealed record FileSpec(string Source, string TargetPath, UnixFileMode? Mode = null)
{
    public static FileSpec? Parse(FileOption f, string workingDirectory, ParseErrors errors)
    {
        string target = f.TargetPath.Trim();
        if (target.Length == 0 || ContainerPath.HasDotDot(target))
        {
            errors.Add(Strings.TargetPathOutsideRootfs, f.Source, f.TargetPath);
            return null;
        }

        if (!File.Exists(f.Source) && !Directory.Exists(f.Source))
        {
            errors.Add(Strings.FileSourceNotFound, f.Source);
            return null;
        }

        UnixFileMode? mode = null;
        if (!string.IsNullOrWhiteSpace(f.Mode) && (mode = FileModes.ParseGiven(f.Mode)) is null)
        {
            errors.Add(Strings.InvalidFileMode, f.Source, f.Mode);
            return null;
        }

        string absolute = target.StartsWith('/') ? target : ContainerPath.Join(workingDirectory, target);
        return new FileSpec(Path.GetFullPath(f.Source), ContainerPath.Normalize(absolute), mode);
    }
}
