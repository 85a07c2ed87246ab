using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Request;
using OciBundle.Model.Oci;
using OciBundle.Sysroots;

namespace OciBundle.Tests;

/// <summary>
/// Issue 25: <c>OciBundleSysroot=docker://...</c> parsed as skopeo's docker transport parses it (every form it takes,
/// Docker Hub's short names normalized), the wrong ones each one coded error with its reason, and the platform's
/// manifest picked from an index as for a layout.
/// </summary>
[TestClass]
public sealed class SysrootReferenceTests
{
    private const string D = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private const string E = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    private static readonly string Cache = Path.Combine(Path.GetTempPath(), "ocibundle-reference-tests");

    private static Func<string, string?> NoEnvironment => _ => null;

    private static (SysrootSpec Spec, IReadOnlyList<OciBundleException> Errors) Parse(string value, string? digest = null, IEnumerable<string>? insecure = null, Func<string, string?>? environment = null)
    {
        var errors = new ParseErrors();
        SysrootSpec spec = SysrootSpec.Parse(value, digest, Cache, "/tmp", errors, insecure, environment ?? NoEnvironment);
        return (spec, errors.All);
    }

    [TestMethod]
    [DataRow("docker://127.0.0.1:5000/base/debian:12", "127.0.0.1:5000", "base/debian", "12", null)]
    [DataRow("docker://127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", "latest", null)]
    [DataRow("docker://localhost/debian@" + D, "localhost", "debian", null, D)]
    [DataRow("docker://localhost:5000/a/b/c:v1.0_x-Y", "localhost:5000", "a/b/c", "v1.0_x-Y", null)]
    [DataRow("docker://registry.example.com/team/my-app__x.y", "registry.example.com", "team/my-app__x.y", "latest", null)]
    [DataRow("docker://debian", "docker.io", "library/debian", "latest", null)]
    [DataRow("docker://debian:12", "docker.io", "library/debian", "12", null)]
    [DataRow("docker://debian@" + D, "docker.io", "library/debian", null, D)]
    [DataRow("docker://user/app:1", "docker.io", "user/app", "1", null)]
    [DataRow("docker://docker.io/debian", "docker.io", "library/debian", "latest", null)]
    [DataRow("docker://index.docker.io/library/debian:12", "docker.io", "library/debian", "12", null)]
    [DataRow("docker://mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled", "mcr.microsoft.com", "dotnet/runtime-deps", "10.0-noble-chiseled", null)]
    [DataRow("docker://[::1]:5000/app:1", "[::1]:5000", "app", "1", null)]
    [DataRow("docker://127.0.0.1:5000/app:12@" + D, "127.0.0.1:5000", "app", "12", D)]
    [DataRow("  docker://127.0.0.1:5000/app:1  ", "127.0.0.1:5000", "app", "1", null)]
    public void EveryFormSkopeoTakesIsParsedAsSkopeoNormalizesIt(string value, string registry, string repository, string? tag, string? digest)
    {
        (SysrootSpec spec, IReadOnlyList<OciBundleException> errors) = Parse(value);
        Assert.AreEqual(0, errors.Count, string.Join("\n", errors.Select(e => e.Message)));
        Assert.AreEqual(SysrootForm.Registry, spec.Form);
        Assert.AreEqual(new ImageReference(registry, repository, tag, digest), spec.Reference);
        Assert.AreEqual(digest, spec.PinnedDigest, "a digest in the reference is the pin");
        Assert.AreEqual(Cache, spec.CacheDirectory);
        Assert.IsFalse(spec.PlainHttp, "TLS unless the registry is listed as insecure");
        Assert.AreEqual(spec.Reference!.ToString(), spec.Path);
        Assert.AreEqual(registry == "docker.io" ? "registry-1.docker.io" : registry, spec.Reference.ApiHost);
    }

    [TestMethod]
    [DataRow("docker:127.0.0.1:5000/app", "the docker transport's reference starts with '//' (docker://...)")]
    [DataRow("docker://", "it names no image")]
    [DataRow("docker://127.0.0.1:5000/a b", "it holds a space or a control character")]
    [DataRow("docker://127.0.0.1:5000/App", "the repository 'App' must be lowercase")]
    [DataRow("docker://Foo/bar", "the repository 'Foo/bar' must be lowercase")]
    [DataRow("docker://127.0.0.1:5000/app@sha256:abc", "'@sha256:abc' is not a digest (algorithm:hex)")]
    [DataRow("docker://127.0.0.1:5000/app@" + "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "the digest 'sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef' is not sha256: and 64 lowercase hex digits")]
    [DataRow("docker://127.0.0.1:5000/app@sha512:0123456789abcdef0123456789abcdef", "the digest 'sha512:0123456789abcdef0123456789abcdef' is not sha256 (an image is pinned by its sha256 digest, as registries name it)")]
    [DataRow("docker://0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "'0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' is 64 hexadecimal digits, an image ID, not a repository")]
    [DataRow("docker://127.0.0.1:5000/app:-bad", "'-bad' is not a tag (letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-')")]
    [DataRow("docker://127.0.0.1:99999/app", "'127.0.0.1:99999' is not a registry (a host name or address, an optional port of 1 to 65535)")]
    [DataRow("docker://127.0.0.1:5000/app//x", "'app//x' is not a repository (lowercase path components of letters and digits joined by '.', '_', '__' or '-', separated by '/')")]
    [DataRow("docker://127.0.0.1:5000/-app", "'-app' is not a repository (lowercase path components of letters and digits joined by '.', '_', '__' or '-', separated by '/')")]
    [DataRow("docker://127.0.0.1:5000/", "'' is not a repository (lowercase path components of letters and digits joined by '.', '_', '__' or '-', separated by '/')")]
    public void AWrongReferenceIsOneCodedErrorWithItsReason(string value, string why)
    {
        (SysrootSpec spec, IReadOnlyList<OciBundleException> errors) = Parse(value);
        Assert.AreEqual(1, errors.Count, string.Join("\n", errors.Select(e => e.Message)));
        Assert.AreEqual("OCIB1620", errors[0].Code);
        Assert.AreEqual(Strings.InvalidSysrootReference.Format(value.Trim(), why), errors[0].Message);
        Assert.IsTrue(spec.IsHostRoot, "nothing is pulled from a wrong reference");
    }

    [TestMethod]
    public void ALongRepositoryOrAReferenceWithUserInformationIsRefusedWithoutEchoingTheSecret()
    {
        string longName = "docker://127.0.0.1:5000/" + string.Join("/", Enumerable.Repeat(new string('a', 60), 5));
        Assert.AreEqual(Strings.InvalidSysrootReference.Format(longName, "the registry and repository are longer than 255 characters"), Parse(longName).Errors.Single().Message);

        (_, IReadOnlyList<OciBundleException> errors) = Parse("docker://me:s3cret-Pa55@127.0.0.1:5000/app:1");
        Assert.AreEqual("OCIB1620", errors.Single().Code);
        StringAssert.Contains(errors[0].Message, "docker://***@127.0.0.1:5000/app:1");
        StringAssert.Contains(errors[0].Message, "it holds user information");
        Assert.IsFalse(errors[0].Message.Contains("s3cret", StringComparison.Ordinal), errors[0].Message);
    }

    [TestMethod]
    public void OciBundleSysrootDigestPinsATagAndMustAgreeWithTheReferencesOwnPin()
    {
        (SysrootSpec tagged, IReadOnlyList<OciBundleException> none) = Parse("docker://127.0.0.1:5000/app:12", D);
        Assert.AreEqual(0, none.Count);
        Assert.AreEqual(D, tagged.PinnedDigest);
        Assert.AreEqual("12", tagged.Reference!.Tag, "the tag still names the image (base.name)");

        Assert.AreEqual(0, Parse("docker://127.0.0.1:5000/app@" + D, D).Errors.Count, "the same pin twice");
        OciBundleException conflict = Parse("docker://127.0.0.1:5000/app@" + D, E).Errors.Single();
        Assert.AreEqual(Strings.SysrootReferencePinConflict.Format("docker://127.0.0.1:5000/app@" + D, D, E), conflict.Message);
        Assert.AreEqual("OCIB1621", conflict.Code);
        Assert.AreEqual("OCIB1300", Parse("docker://127.0.0.1:5000/app:1", "sha256:nope").Errors.Single().Code);
        var errors = new ParseErrors();
        SysrootSpec.Parse("docker://127.0.0.1:5000/app:1", null, "relative/cache", "/tmp", errors, null, NoEnvironment);
        Assert.AreEqual("OCIB1302", errors.All.Single().Code, "the pull goes into an absolute cache");
    }

    [TestMethod]
    public void TheInsecureListOfThePushChoosesPlainHttpForThePullAndIsCheckedOnlyForAReference()
    {
        Assert.IsTrue(Parse("docker://127.0.0.1:5000/app:1", insecure: new[] { "127.0.0.1:5000" }).Spec.PlainHttp);
        Assert.IsTrue(Parse("docker://127.0.0.1:5000/app:1", environment: v => v == "OCIBUNDLE_INSECURE_REGISTRIES" ? "other:1;127.0.0.1:5000" : null).Spec.PlainHttp);
        Assert.IsTrue(Parse("docker://127.0.0.1:5000/app:1", environment: v => v == "DOTNET_CONTAINER_INSECURE_REGISTRIES" ? "127.0.0.1:5000" : null).Spec.PlainHttp);
        Assert.IsFalse(Parse("docker://127.0.0.1:5000/app:1", insecure: new[] { "127.0.0.1:5001" }).Spec.PlainHttp);

        OciBundleException bad = Parse("docker://127.0.0.1:5000/app:1", environment: v => v == "OCIBUNDLE_INSECURE_REGISTRIES" ? "http://x" : null).Errors.Single();
        Assert.AreEqual(Strings.InvalidInsecureRegistry.Format("OCIBUNDLE_INSECURE_REGISTRIES", "http://x"), bad.Message);
        var errors = new ParseErrors();
        SysrootSpec.Parse("/", null, Cache, "/tmp", errors, new[] { "http://x" }, NoEnvironment);
        Assert.AreEqual(0, errors.All.Count, "a build that pulls nothing is not stopped by the insecure list");
    }

    private static OciDescriptor Descriptor(string os, string architecture, string digest, string? variant = null) => new()
    {
        MediaType = "application/vnd.oci.image.manifest.v1+json",
        Digest = digest,
        Size = 500,
        Platform = new OciPlatform { Os = os, Architecture = architecture, Variant = variant },
    };

    [TestMethod]
    public void ThePlatformsManifestIsPickedFromAnIndexAndAMissingOneIsCodedWithWhatThereIs()
    {
        var index = new List<OciDescriptor>
        {
            Descriptor("unknown", "unknown", "sha256:" + new string('0', 64)),
            Descriptor("windows", "amd64", "sha256:" + new string('1', 64)),
            Descriptor("linux", "amd64", D),
            Descriptor("linux", "arm64", E, "v8"),
        };
        Assert.AreEqual(D, OciImage.Choose(index, "amd64", "docker://r/x:1", Strings.SysrootRegistryPlatformNotFound).Digest);
        Assert.AreEqual(E, OciImage.Choose(index, "arm64", "docker://r/x:1", Strings.SysrootRegistryPlatformNotFound).Digest);

        var missing = Assert.ThrowsExactly<OciBundleException>(() => OciImage.Choose(index, "riscv64", "docker://r/x:1", Strings.SysrootRegistryPlatformNotFound));
        Assert.AreEqual(Strings.SysrootRegistryPlatformNotFound.Format("docker://r/x:1", "riscv64", "unknown/unknown, windows/amd64, linux/amd64, linux/arm64/v8"), missing.Message);
        Assert.AreEqual("OCIB1628", missing.Code);
        Assert.AreEqual("OCIB1305", Assert.ThrowsExactly<OciBundleException>(() => OciImage.Choose(index, "riscv64", "layout")).Code, "a layout keeps its own code");

        var single = new List<OciDescriptor> { new() { MediaType = "application/vnd.oci.image.manifest.v1+json", Digest = D, Size = 1 } };
        Assert.AreEqual(D, OciImage.Choose(single, "arm64", "docker://r/x:1").Digest, "one manifest without a platform is the image (its config's architecture is checked when unpacked)");
    }
}
