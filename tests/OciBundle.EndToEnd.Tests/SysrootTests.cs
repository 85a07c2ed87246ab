using System.Formats.Tar;
using System.Security.Cryptography;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 15, as a user meets it: sysroots made with mmdebstrap from this machine's apt sources (Debian 12 amd64 and
/// arm64, Debian 13 amd64), given as a tarball, an OCI layout, an OCI archive or a folder, pinned by digest. The
/// bundle's native files are the sysroot's bytes, never the host's; the app runs under runc (arm64 through qemu-user).
/// </summary>
[TestClass]
public sealed class SysrootTests
{
    internal const string Bookworm = "libstdc++6,libicu72,libssl3,zlib1g,tzdata,ca-certificates";
    private const string Trixie = "libstdc++6,libicu76,libssl3t64,zlib1g,tzdata,ca-certificates";
    internal const string AppArg = """<OciBundleAppArg Include="sysroot" />""";

    private static string Rid(string arch) => arch == "amd64" ? "linux-x64" : "linux-arm64";

    private static string BundleDir(TestProject p, string rid) => Path.Combine(p.Directory, "bin", "Release", "net10.0", rid, "oci-bundle");

    internal static JObject Provenance(string bundle) => JObject.Parse(File.ReadAllText(Path.Combine(bundle, "provenance.json")));

    private static string Sha256(string path)
    {
        using FileStream s = File.OpenRead(path);
        return "sha256:" + Convert.ToHexString(SHA256.HashData(s)).ToLowerInvariant();
    }

    /// <summary>The SHA-256 of every regular file of a tarball, by absolute path (links resolved to their target's hash).</summary>
    private static Dictionary<string, string> TarFiles(string tarball)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        var hardLinks = new List<(string Name, string Target)>();
        using FileStream s = File.OpenRead(tarball);
        using var reader = new TarReader(s);
        while (reader.GetNextEntry() is { } e)
        {
            string name = "/" + e.Name.TrimStart('.', '/');
            if (e.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && e.DataStream is { } data)
            {
                files[name] = Convert.ToHexString(SHA256.HashData(data));
            }
            else if (e.EntryType == TarEntryType.HardLink)
            {
                hardLinks.Add((name, "/" + e.LinkName.TrimStart('.', '/')));
            }
        }

        foreach ((string name, string target) in hardLinks.Where(h => files.ContainsKey(h.Target)))
        {
            files[name] = files[target];
        }

        return files;
    }

    /// <summary>
    /// Every native file (not under /app) of the bundle is the sysroot's file at the same path, byte for byte, read
    /// from the cache; every source is in the cache or the publish output: nothing of the host's own root. provenance.json
    /// names them as any machine would: <c>$(OciBundleSysrootCache)/...</c> and relative to the project.
    /// </summary>
    internal static void AssertHermetic(string bundle, string tarball, string cache, string projectDir, string publishDir)
    {
        Dictionary<string, string> sysroot = TarFiles(tarball);
        const string Cache = "$(OciBundleSysrootCache)/";
        string publish = Path.GetRelativePath(projectDir, publishDir) + "/";
        int native = 0;
        foreach (JToken file in Provenance(bundle)["files"]!.Where(f => (string?)f["type"] == "file" && f["source"] is not null))
        {
            string path = (string)file["path"]!, source = (string)file["source"]!;
            Assert.IsTrue(source.StartsWith(Cache, StringComparison.Ordinal) || source.StartsWith(publish, StringComparison.Ordinal), $"{path} comes from {source}, outside the sysroot cache and the publish output");
            if (source.StartsWith(Cache, StringComparison.Ordinal))
            {
                native++;
                Assert.IsTrue(File.Exists(Path.Combine(cache, source[Cache.Length..])), $"{source} is in {cache}");
                using FileStream inBundle = File.OpenRead(Path.Combine(bundle, "rootfs") + path);
                string real = source[(source.IndexOf("/rootfs/", StringComparison.Ordinal) + 7)..];
                Assert.IsTrue(sysroot.TryGetValue(real, out string? expected), $"{real} is not a file of {tarball}");
                Assert.AreEqual(expected, Convert.ToHexString(SHA256.HashData(inBundle)), $"{path} is not the sysroot's {real}");
            }
        }

        Assert.IsTrue(native > 10, $"only {native} files from the sysroot");
    }

    internal static Dictionary<string, string> Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Where(l => l.Contains(": ", StringComparison.Ordinal)).ToDictionary(l => l[..l.IndexOf(": ", StringComparison.Ordinal)], l => l[(l.IndexOf(": ", StringComparison.Ordinal) + 2)..]);

    [TestMethod]
    public void EveryFormOfADebian12SysrootGivesTheSameBundlePinnedAndRecorded()
    {
        Runc.RequireRoot();
        string tarball = DebianSysroots.Get("bookworm", "amd64", Bookworm);
        string digest = Sha256(tarball);
        using var work = new TempDirectory("ocibundle-sysroot-e2e-");
        string cache = work.Combine("cache");
        using TestProject project = TestProject.WithSdkElement("Hermetic", $"<OciBundleSysrootCache>{cache}</OciBundleSysrootCache>", AppArg);

        ProcessResult first = project.Publish("-p:PublishOciBundle=true", "-p:PublishOciImage=true", $"-p:OciBundleSysroot={tarball}", $"-p:OciBundleSysrootDigest={digest}");
        ProcessResult container = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, container.ExitCode, container.All);
        ProcessResult host = TestEnvironment.Run(Path.Combine(project.PublishDir, "Hermetic"), new[] { "sysroot" }, project.PublishDir, null, TimeSpan.FromMinutes(1));
        Assert.AreEqual(0, host.ExitCode, host.All);
        Dictionary<string, string> inside = Lines(container.Output), outside = Lines(host.Output);
        StringAssert.StartsWith(inside["icu"], "libicuuc.so.72");
        StringAssert.Contains(inside["os"], "Debian GNU/Linux 12 (bookworm)");
        Assert.AreEqual("X64", inside["machine"]);
        foreach (string key in new[] { "date", "tz", "sha256", "icu" })
        {
            Assert.AreEqual(outside[key], inside[key], $"{key}: the app prints inside what it prints on the host");
        }

        AssertHermetic(project.BundleDir, tarball, cache, project.Directory, project.PublishDir);
        JObject recorded = (JObject)Provenance(project.BundleDir)["sysroot"]!;
        Assert.AreEqual(digest, (string?)recorded["digest"]);
        Assert.AreEqual(tarball, (string?)recorded["source"]);

        string image = Path.Combine(project.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-image");
        ProcessResult inspect = TestEnvironment.RunCapture("skopeo", "inspect", $"oci:{image}:latest");
        Assert.AreEqual(0, inspect.ExitCode, inspect.All);
        Assert.AreEqual(digest, (string?)JObject.Parse(inspect.Output)["Labels"]!["io.ocibundle.sysroot.digest"], "skopeo shows which sysroot the libraries came from");
        string imageDigest = (string)JObject.Parse(inspect.Output)["Digest"]!;
        JObject os = (JObject)SbomTests.Read(project.BundleDir)["packages"]!.Single(p => (string?)p["primaryPackagePurpose"] == "OPERATING_SYSTEM");
        StringAssert.Contains((string?)os["sourceInfo"], digest, "the SBOM names the sysroot the libraries came from");
        // Every form gives the same rootfs but for the SBOM, which names the digest of the form used.
        static string RootfsButSbom(string bundle) => string.Join("\n", TreeFingerprint.Of(Path.Combine(bundle, "rootfs")).Split('\n').Where(l => !l.Contains("usr/share/sbom", StringComparison.Ordinal)));
        string rootfs = RootfsButSbom(project.BundleDir);

        // A wrong pin is one coded error naming both digests, and the bundle stays as it was.
        string wrong = "sha256:" + new string('1', 64);
        ProcessResult refused = project.Publish(expectSuccess: false, "-p:PublishOciBundle=true", $"-p:OciBundleSysroot={tarball}", $"-p:OciBundleSysrootDigest={wrong}");
        Assert.AreNotEqual(0, refused.ExitCode);
        StringAssert.Contains(refused.Output, "OCIB1303");
        StringAssert.Contains(refused.Output, wrong);
        StringAssert.Contains(refused.Output, digest);
        Assert.AreEqual(rootfs, RootfsButSbom(project.BundleDir));

        // The same tarball as an OCI image layout (one gzip layer), an OCI archive and a folder: the same rootfs.
        string layout = work.Combine("debian-layout");
        string manifest = OciLayoutMaker.Write(layout, new[] { tarball }, tag: "12");
        string archive = work.Combine("debian-12.oci.tar");
        OciLayoutMaker.Archive(layout, archive);
        string folder = work.Combine("debian-folder");
        Directory.CreateDirectory(folder);
        ProcessResult untar = TestEnvironment.RunCapture("tar", "-xf", tarball, "-C", folder, "--exclude=./dev/*");
        Assert.AreEqual(0, untar.ExitCode, untar.All);
        foreach ((string sysroot, string? pin, string form) in new[] { ($"{layout}:12", manifest, "oci-layout"), (archive, manifest, "oci-archive"), (folder, null, "folder") })
        {
            project.Publish("-p:PublishOciBundle=true", $"-p:OciBundleSysroot={sysroot}", $"-p:OciBundleSysrootDigest={pin}");
            Assert.AreEqual(rootfs, RootfsButSbom(project.BundleDir), $"{form} gives the tarball's rootfs");
            Assert.AreEqual(form, (string?)Provenance(project.BundleDir)["sysroot"]!["form"]);
        }

        Assert.AreEqual(3, Directory.GetDirectories(cache).Count(d => !Path.GetFileName(d).StartsWith('.')), "the tarball, the layout's image and the archive, each unpacked once");

        // Two clean publishes of the pinned project: the same image, to the digest.
        Directory.Delete(Path.Combine(project.Directory, "bin"), recursive: true);
        Directory.Delete(Path.Combine(project.Directory, "obj"), recursive: true);
        project.Publish("-p:PublishOciImage=true", $"-p:OciBundleSysroot={tarball}", $"-p:OciBundleSysrootDigest={digest}");
        ProcessResult again = TestEnvironment.RunCapture("skopeo", "inspect", $"oci:{image}:latest");
        Assert.AreEqual(imageDigest, (string)JObject.Parse(again.Output)["Digest"]!, "a clean publish gives the same image digest");
        Console.WriteLine(first.Output.Split('\n').LastOrDefault(l => l.Contains("OCI bundle:", StringComparison.Ordinal)));
    }

    [TestMethod]
    public void ADebian13SysrootPutsItsOwnIcuInsideOnADebian12Host()
    {
        Runc.RequireRoot();
        string tarball = DebianSysroots.Get("trixie", "amd64", Trixie);
        using var work = new TempDirectory("ocibundle-sysroot-e2e-");
        string cache = work.Combine("cache");
        using TestProject project = TestProject.WithSdkElement("Trixie", $"<OciBundleSysroot>{tarball}</OciBundleSysroot><OciBundleSysrootCache>{cache}</OciBundleSysrootCache>", AppArg);
        project.Publish("-p:PublishOciBundle=true");

        ProcessResult host = TestEnvironment.Run(Path.Combine(project.PublishDir, "Trixie"), new[] { "sysroot" }, project.PublishDir, null, TimeSpan.FromMinutes(1));
        ProcessResult container = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, container.ExitCode, container.All);
        Dictionary<string, string> inside = Lines(container.Output), outside = Lines(host.Output);
        StringAssert.StartsWith(outside["icu"], "libicuuc.so.72", "the host is Debian 12");
        StringAssert.StartsWith(inside["icu"], "libicuuc.so.76", "the container runs on the sysroot's ICU");
        StringAssert.Contains(inside["os"], "Debian GNU/Linux 13 (trixie)");
        Assert.AreNotEqual(outside["libc"], inside["libc"], "the sysroot's C library, newer than the host's");
        Assert.AreEqual(outside["date"], inside["date"]);
        Assert.AreEqual(outside["tz"], inside["tz"]);
        Assert.IsFalse(Directory.EnumerateFiles(Path.Combine(project.BundleDir, "rootfs"), "libicuuc.so.72*", SearchOption.AllDirectories).Any(), "nothing of the host's ICU");
        AssertHermetic(project.BundleDir, tarball, cache, project.Directory, project.PublishDir);
    }

    [TestMethod]
    public void AnArm64BundleFromItsOwnSysrootRunsUnderQemuAndTheDefaultSysrootSaysWhy()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(File.Exists("/proc/sys/fs/binfmt_misc/qemu-aarch64"), "arm64 binaries run through qemu-user-static's binfmt handler (.ci/run registers /proc/sys/fs/binfmt_misc/qemu-aarch64)");
        // extract: the packages unpacked without their scripts, so no emulation is needed to make it.
        string tarball = DebianSysroots.Get("bookworm", "arm64", "libc6,libstdc++6,libgcc-s1,libicu72,libssl3,zlib1g,tzdata", variant: "extract");
        using var work = new TempDirectory("ocibundle-sysroot-e2e-");
        string cache = work.Combine("cache");
        using TestProject project = TestProject.WithSdkElement("Arm", $"""
            <OciBundleSysrootCache>{cache}</OciBundleSysrootCache>
          </PropertyGroup>
          <PropertyGroup Condition="'$(RuntimeIdentifier)' == 'linux-arm64'">
            <OciBundleSysroot>{tarball}</OciBundleSysroot>
            <OciBundleSysrootDigest>{Sha256(tarball)}</OciBundleSysrootDigest>
          """, AppArg);

        // The build machine's own root has no arm64 libraries: one message that says so, and how to make a sysroot.
        ProcessResult refused = project.Publish(expectSuccess: false, "-r", "linux-arm64", "-p:PublishOciBundle=true", "-p:OciBundleSysroot=/", "-p:OciBundleSysrootDigest=");
        Assert.AreNotEqual(0, refused.ExitCode);
        StringAssert.Contains(refused.Output, "OCIB2006");
        StringAssert.Contains(refused.Output, "it holds amd64 libraries");
        StringAssert.Contains(refused.Output, "mmdebstrap");
        Assert.IsFalse(refused.Output.Contains("OCIB2001", StringComparison.Ordinal), "not a list of missing libraries");

        // The default seccomp filter is arm64's (the bundle is for an arm64 host); under qemu-user every system call is
        // the emulator's own x86-64 one, which that filter refuses: this run on an amd64 machine goes without it.
        project.Publish("-r", "linux-arm64", "-p:PublishOciBundle=true", "-p:OciBundleSeccomp=unconfined");
        string bundle = BundleDir(project, "linux-arm64");
        ProcessResult container = Runc.RunAsRoot(bundle);
        Assert.AreEqual(0, container.ExitCode, container.All);
        Dictionary<string, string> inside = Lines(container.Output);
        Assert.AreEqual("Arm64", inside["machine"]);
        StringAssert.StartsWith(inside["icu"], "libicuuc.so.72");
        Assert.AreEqual("Freitag, 1. März 2024", inside["date"]);
        Assert.AreEqual("14:00", inside["tz"]);
        AssertHermetic(bundle, tarball, cache, project.Directory, Path.Combine(project.Directory, "bin", "Release", "net10.0", "linux-arm64", "publish"));
    }
}

/// <summary>
/// Debian root file systems made with mmdebstrap from this machine's apt sources, kept between runs in one folder
/// (named by what made them), built once under a lock however many tests and runs ask.
/// </summary>
internal static class DebianSysroots
{
    private const string Folder = "/var/cache/ocibundle-tests/sysroots";
    private static readonly object Gate = new();

    public static string Get(string suite, string arch, string include, string variant = "essential")
    {
        TestEnvironment.Require(TestEnvironment.Which("mmdebstrap") is not null, "mmdebstrap is not installed (apt-get install mmdebstrap)");
        TestEnvironment.Require(TestEnvironment.IsRoot, "mmdebstrap makes sysroots as root here");
        var args = new List<string> { $"--variant={variant}", $"--architectures={arch}", $"--include={include}", "--format=tar" };
        foreach (string excluded in new[] { "/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*" })
        {
            args.Add($"--dpkgopt=path-exclude={excluded}");
        }

        string key = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join(' ', args) + suite)))[..10].ToLowerInvariant();
        string path = Path.Combine(Folder, $"{suite}-{arch}-{variant}-{key}.tar");
        lock (Gate)
        {
            Directory.CreateDirectory(Folder);
            using FileStream held = LockFile(Path.Combine(Folder, ".lock"));
            if (File.Exists(path))
            {
                return path;
            }

            string temp = path + $".tmp-{Guid.NewGuid():N}";
            ProcessResult made = TestEnvironment.Run("mmdebstrap", args.Concat(new[] { suite, temp }), Folder, null, TimeSpan.FromMinutes(9));
            if (made.ExitCode != 0)
            {
                File.Delete(temp);
                Assert.Fail($"mmdebstrap {string.Join(' ', args)} {suite} failed:\n{made.All}");
            }

            File.Move(temp, path);
            return path;
        }
    }

    private static FileStream LockFile(string path)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (clock.Elapsed < TimeSpan.FromMinutes(20))
            {
                Thread.Sleep(500); // another run is making a sysroot
            }
        }
    }
}
