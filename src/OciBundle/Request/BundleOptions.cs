namespace OciBundle.Request;

/// <summary>
/// Everything one bundle is built from, as plain values: the MSBuild task copies the project's properties and items
/// into it, tests fill it directly. Nothing here has a default: the targets give every user-visible default, once,
/// and the parse step (<see cref="Request.BundleRequest.Parse"/>) refuses a missing one rather than default it again.
/// </summary>
internal sealed class BundleOptions
{
    /// <summary>The publish output: copied to <see cref="WorkingDirectory"/>.</summary>
    public string PublishDirectory { get; set; } = "";

    /// <summary>Where <c>config.json</c> and <c>rootfs/</c> go (<c>OciBundleDir</c>).</summary>
    public string BundleDirectory { get; set; } = "";

    /// <summary>The project's folder: an output folder equal to it or above it is refused.</summary>
    public string? ProjectDirectory { get; set; }

    /// <summary>Folders an output folder must never be or contain, whatever is in them (the project's bin/ and obj/).</summary>
    public IList<string> ProtectedDirectories { get; set; } = new List<string>();

    /// <summary>The app's assembly name (<c>$(TargetName)</c>), for the default entry point and hostname.</summary>
    public string AppName { get; set; } = "";

    /// <summary>The app host's file name in the publish output, when the app has one (<c>$(UseAppHost)</c>).</summary>
    public string? AppHost { get; set; }

    /// <summary><c>OciBundleArg</c>: replaces the default entry point when not empty.</summary>
    public IList<string> Args { get; set; } = new List<string>();

    /// <summary><c>OciBundleAppArg</c>: appended to the default entry point.</summary>
    public IList<string> AppArgs { get; set; } = new List<string>();

    /// <summary><c>OciBundleReadOnly</c>.</summary>
    public bool ReadOnly { get; set; }

    /// <summary><c>OciBundleOS</c>: only <c>linux</c>.</summary>
    public string? OS { get; set; }

    /// <summary><c>OciBundleArch</c>: GOARCH name or alias; empty means from the RuntimeIdentifier (or this machine).</summary>
    public string? Arch { get; set; }

    public string? RuntimeIdentifier { get; set; }

    public IList<MountOption> Mounts { get; set; } = new List<MountOption>();

    /// <summary><c>OciBundleVolume</c> items: the container's data folders.</summary>
    public IList<VolumeOption> Volumes { get; set; } = new List<VolumeOption>();

    public IList<KeyValuePair<string, string>> Environment { get; set; } = new List<KeyValuePair<string, string>>();

    /// <summary><c>OciBundleWorkingDirectory</c>.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary><c>OciBundleUser</c>: uid[:gid] or a name of the generated /etc/passwd.</summary>
    public string? User { get; set; }

    /// <summary><c>OciBundleHostname</c>; empty: the project name, made a valid hostname.</summary>
    public string? Hostname { get; set; }

    /// <summary><c>OciBundleRootless</c>.</summary>
    public bool Rootless { get; set; }

    /// <summary>Rootless: the host ids the container's root maps to (empty: the ids running the build, or sudo's).</summary>
    public string? HostUid { get; set; }

    public string? HostGid { get; set; }

    /// <summary><c>OciBundleSpecVersion</c>.</summary>
    public string? SpecVersion { get; set; }

    /// <summary><c>OciBundleNetwork</c>: <c>private</c> (a new network namespace) or <c>host</c>.</summary>
    public string? Network { get; set; }

    public IList<FileOption> Files { get; set; } = new List<FileOption>();

    /// <summary><c>OciBundleSysroot</c>.</summary>
    public string? Sysroot { get; set; }

    /// <summary><c>OciBundleSysrootDigest</c>: the digest the sysroot must have (<c>sha256:...</c>), or empty.</summary>
    public string? SysrootDigest { get; set; }

    /// <summary><c>OciBundleSysrootCache</c>: where sysroot archives and images are unpacked, shared by every project.</summary>
    public string? SysrootCache { get; set; }

    /// <summary><c>OciImageBase</c>: the image to build on (<c>docker://...</c>, an OCI layout or archive), or empty.</summary>
    public string? ImageBase { get; set; }

    /// <summary><c>OciImageInsecureRegistries</c>, split: registries reached over plain HTTP, for a sysroot pulled from one (<c>docker://...</c>).</summary>
    public IList<string> InsecureRegistries { get; set; } = new List<string>();

    /// <summary>Copy the time zone database (<c>OciBundleIncludeTimeZoneData</c>).</summary>
    public bool IncludeTimeZoneData { get; set; }

    /// <summary><c>OciBundleSbom</c>: package metadata for scanners in rootfs (the distribution's release files, dpkg status.d).</summary>
    public bool Sbom { get; set; }

    /// <summary>The NuGet package folder (<c>$(NuGetPackageRoot)</c>): the SBOM reads packages' declared licenses there. Empty: none read.</summary>
    public string? NuGetPackageRoot { get; set; }

    /// <summary>
    /// The runtime packs compiled into the app, as package id and version (Native AOT's
    /// <c>Microsoft.NETCore.App.Runtime.NativeAOT.linux-x64</c>): the SBOM names them, as no deps.json does.
    /// </summary>
    /// <summary>
    /// The app's deps.json when it is not in the publish output (a single-file app embeds it; MSBuild keeps the publish
    /// copy in obj/): the SBOM reads it. Empty: <c>&lt;AppName&gt;.deps.json</c> of the publish output.
    /// </summary>
    public string? DepsFile { get; set; }

    /// <summary><c>OciBundleCacheDir</c>: where this machine's caches go (the SBOM's file digests). Empty: no cache.</summary>
    public string? CacheDirectory { get; set; }

    public IList<KeyValuePair<string, string>> RuntimePacks { get; set; } = new List<KeyValuePair<string, string>>();

    /// <summary>Copy GSSAPI (Kerberos) for <c>NegotiateAuthentication</c> (<c>OciBundleIncludeGssapi</c>).</summary>
    public bool IncludeGssapi { get; set; }

    /// <summary>The .NET installation framework-dependent apps take their frameworks from; empty: the one running the build.</summary>
    public string? DotnetRoot { get; set; }

    /// <summary>Seconds since 1970 for every timestamp in the bundle (<c>SOURCE_DATE_EPOCH</c>, or the targets' 1980-01-01).</summary>
    public string? SourceDateEpoch { get; set; }

    /// <summary>
    /// The git commit the project is built from (the .NET SDK's SourceRoot <c>RevisionId</c>), given when
    /// <c>SOURCE_DATE_EPOCH</c> is not set: its time is the image's and the SBOM's <c>created</c>.
    /// </summary>
    public string? SourceCommit { get; set; }

    /// <summary><c>OciBundleCapabilities</c>: names, or <c>none</c>.</summary>
    public IList<string>? Capabilities { get; set; }

    /// <summary><c>OciBundleRootCapabilities</c>: what <c>default</c> gives root outside a user namespace.</summary>
    public IList<string>? RootCapabilities { get; set; }

    /// <summary><c>OciBundleNoNewPrivileges</c>.</summary>
    public bool NoNewPrivileges { get; set; }

    /// <summary><c>OciBundleHttpPorts</c>, given by the targets for an ASP.NET Core app only; empty for any other.</summary>
    public string? HttpPorts { get; set; }

    /// <summary><c>OciBundleSeccomp</c>: <c>default</c>, <c>unconfined</c> or a profile file's path.</summary>
    public string? Seccomp { get; set; }

    /// <summary><c>OciBundleMaskedPaths</c> (the defaults, or <c>none</c>) and the <c>OciBundleMaskedPath</c> items.</summary>
    public IList<string> MaskedPaths { get; set; } = new List<string>();

    public IList<string> MaskedPathItems { get; set; } = new List<string>();

    /// <summary><c>OciBundleReadonlyPaths</c> (the defaults, or <c>none</c>) and the <c>OciBundleReadonlyPath</c> items.</summary>
    public IList<string> ReadonlyPaths { get; set; } = new List<string>();

    public IList<string> ReadonlyPathItems { get; set; } = new List<string>();

    /// <summary><c>OciBundleRlimit</c> items.</summary>
    public IList<RlimitOption> Rlimits { get; set; } = new List<RlimitOption>();

    /// <summary>Write the runtime bundle (<c>PublishOciBundle</c>); false when only an image is asked for.</summary>
    public bool WriteBundle { get; set; }

    /// <summary>Where to write an OCI image layout (<c>OciImageDir</c>, with <c>PublishOciImage</c>); null for none.</summary>
    public string? ImageDirectory { get; set; }

    /// <summary>The image's tag (<c>OciImageTag</c>), the <c>org.opencontainers.image.ref.name</c> annotation.</summary>
    public string? ImageTag { get; set; }

    /// <summary>How image layers are compressed (<c>OciImageLayerCompression</c>): <c>gzip</c> or <c>zstd</c>.</summary>
    public string? ImageLayerCompression { get; set; }

    /// <summary>How the app folder is split into image layers (<c>OciImageLayering</c>): <c>ByChangeRate</c> or <c>SingleAppLayer</c>.</summary>
    public string? ImageLayering { get; set; }

    /// <summary>Also write the layout as one oci-archive tar here (<c>OciImageArchive</c>).</summary>
    public string? ImageArchive { get; set; }

    /// <summary>Files of the publish output that come from the .NET runtime pack (relative paths): the image's runtime layer.</summary>
    public IList<string> RuntimeFiles { get; set; } = new List<string>();

    /// <summary>Image labels (<c>org.opencontainers.image.*</c> and the user's <c>OciImageLabel</c> items).</summary>
    public IDictionary<string, string> ImageLabels { get; set; } = new Dictionary<string, string>();

    /// <summary>Ports the app listens on (<c>OciImagePort</c> items: 8080, 8080/tcp, 53/udp).</summary>
    public IList<string> ImagePorts { get; set; } = new List<string>();

    /// <summary><c>OciImageRegistry</c> (<c>host[:port]</c>), for the image's full name; null or empty when it is pushed nowhere.</summary>
    public string? ImageRegistry { get; set; }

    /// <summary><c>OciImageRepository</c>: the image's name in a registry (the targets default it to the project name, lowercased).</summary>
    public string? ImageRepository { get; set; }

    /// <summary><c>OciImageTags</c>, split: the tags the push gives the image, checked with the rest so a bad one stops the publish before anything is written.</summary>
    public IList<string> ImageTags { get; set; } = new List<string>();

    /// <summary><c>OciImageDefaultArgs</c> items: the image's <c>Cmd</c>.</summary>
    public IList<string> ImageDefaultArgs { get; set; } = new List<string>();
}

/// <summary>One <c>OciBundleMount</c> item.</summary>
internal sealed class MountOption
{
    public string Destination { get; set; } = "";
    public string? Type { get; set; }
    public string? Source { get; set; }
    public IList<string> Options { get; set; } = new List<string>();
}

/// <summary>One <c>OciBundleVolume</c> item: <c>Include</c> the folder in the container, <c>Source</c> a host folder (empty: beside the bundle).</summary>
internal sealed class VolumeOption
{
    public string Path { get; set; } = "";
    public string? Source { get; set; }
}

/// <summary>One <c>OciBundleRlimit</c> item: <c>Include</c> the limit's name, <c>Soft</c> and <c>Hard</c> metadata.</summary>
internal sealed class RlimitOption
{
    public string Type { get; set; } = "";
    public string? Soft { get; set; }
    public string? Hard { get; set; }
}

/// <summary>One <c>OciBundleFile</c> item: a host file or folder and where it goes in rootfs.</summary>
internal sealed class FileOption
{
    public string Source { get; set; } = "";
    public string TargetPath { get; set; } = "";

    /// <summary>The item's <c>Mode</c> metadata (<c>0644</c>, <c>0755</c>): every file of the item gets it; empty for the product's rule.</summary>
    public string? Mode { get; set; }
}
