using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Model;
using OciBundle.Request;
using OciBundle.Sysroots;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// Issue 25, item 1, in the engine: a registry in a handler serves an image index; the pull picks the platform's
/// manifest, checks every answer (digests, sizes, media types), unpacks into the cache, and a pinned reference then
/// needs no request at all. A hostile or absent registry gets the sysroot's coded errors.
/// </summary>
[TestClass]
public sealed class RegistrySysrootPullTests
{
    private const string Host = "registry.test:5000";
    private static readonly TargetArchitecture Amd64 = TargetArchitecture.Find("amd64", out _)!;
    private static readonly TargetArchitecture Arm64 = TargetArchitecture.Find("arm64", out _)!;

    private static string Digest(byte[] bytes) => "sha256:" + Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    /// <summary>An image: one gzip layer holding /etc/os-release, its config, its manifest, and an index naming it for amd64 (and a missing arm64 one).</summary>
    private sealed class Image
    {
        public Image(string text = "ID=pulled\n")
        {
            var tar = new MemoryStream();
            using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "etc/") { Mode = (UnixFileMode)0b111_101_101 });
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "etc/os-release") { Mode = (UnixFileMode)0b110_100_100, DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)) });
            }

            var gz = new MemoryStream();
            using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
            {
                z.Write(tar.ToArray());
            }

            Layer = gz.ToArray();
            Config = Encoding.UTF8.GetBytes(new JObject { ["architecture"] = "amd64", ["os"] = "linux", ["rootfs"] = new JObject { ["type"] = "layers", ["diff_ids"] = new JArray(Digest(tar.ToArray())) } }.ToString());
            Manifest = Encoding.UTF8.GetBytes(new JObject
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
                ["config"] = new JObject { ["mediaType"] = "application/vnd.oci.image.config.v1+json", ["digest"] = Digest(Config), ["size"] = Config.Length },
                ["layers"] = new JArray(new JObject { ["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip", ["digest"] = Digest(Layer), ["size"] = Layer.Length }),
            }.ToString());
            Index = Encoding.UTF8.GetBytes(new JObject
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = "application/vnd.oci.image.index.v1+json",
                ["manifests"] = new JArray(
                    new JObject { ["mediaType"] = "application/vnd.oci.image.manifest.v1+json", ["digest"] = Digest(Manifest), ["size"] = Manifest.Length, ["platform"] = new JObject { ["architecture"] = "amd64", ["os"] = "linux" } },
                    new JObject { ["mediaType"] = "application/vnd.oci.image.manifest.v1+json", ["digest"] = "sha256:" + new string('9', 64), ["size"] = 10, ["platform"] = new JObject { ["architecture"] = "s390x", ["os"] = "linux" } }),
            }.ToString());
        }

        public byte[] Layer { get; }
        public byte[] Config { get; }
        public byte[] Manifest { get; }
        public byte[] Index { get; }

        /// <summary>The registry's answers; <paramref name="alter"/> may replace one (by path) with another.</summary>
        public RegistryHostileTests.FakeRegistry Registry(Func<string, HttpResponseMessage?>? alter = null) => new(request =>
        {
            string path = request.RequestUri!.AbsolutePath;
            if (alter?.Invoke(path) is { } altered)
            {
                return altered;
            }

            var served = new Dictionary<string, byte[]>(StringComparer.Ordinal)
            {
                ["/v2/team/base/manifests/12"] = Index,
                [$"/v2/team/base/manifests/{Digest(Index)}"] = Index,
                [$"/v2/team/base/manifests/{Digest(Manifest)}"] = Manifest,
                [$"/v2/team/base/blobs/{Digest(Config)}"] = Config,
                [$"/v2/team/base/blobs/{Digest(Layer)}"] = Layer,
                ["/v2/team/base/tags/list"] = Encoding.UTF8.GetBytes("{\"name\":\"team/base\",\"tags\":[\"12\",\"latest\"]}"),
            };
            byte[]? body = served.GetValueOrDefault(path);
            return body is null
                ? RegistryHostileTests.Answer(HttpStatusCode.NotFound, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}")
                : new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(body) };
        });
    }

    /// <summary>A handler that fails every request as a stopped registry would (connection refused).</summary>
    private static RegistryHostileTests.FakeRegistry Stopped() => new((_, _) => throw new HttpRequestException("Connection refused (registry.test:5000)"));

    private static SysrootSpec Spec(string reference, string cache)
    {
        var errors = new ParseErrors();
        SysrootSpec spec = SysrootSpec.Parse(reference, null, cache, "/tmp", errors, new[] { Host }, _ => null);
        Assert.AreEqual(0, errors.All.Count, string.Join("\n", errors.All.Select(e => e.Message)));
        return spec;
    }

    private static MaterializedSysroot Pull(string reference, string cache, HttpMessageHandler handler, TargetArchitecture? arch = null) =>
        RegistrySysroot.Materialize(Spec(reference, cache), arch ?? Amd64, _ => { }, CancellationToken.None, _ => null, handler);

    private static OciBundleException Fails(Func<object> pull)
    {
        try
        {
            pull();
        }
        catch (OciBundleException e)
        {
            return e;
        }

        throw new AssertFailedException("the pull succeeded");
    }

    [TestMethod]
    public void ATagIsPulledForThePlatformAndItsPinIsThenUsedWithNoRequestAtAll()
    {
        using var dir = new TempDirectory();
        string cache = dir.Combine("cache");
        var image = new Image();
        RegistryHostileTests.FakeRegistry registry = image.Registry();
        MaterializedSysroot pulled = Pull($"docker://{Host}/team/base:12", cache, registry);
        Assert.AreEqual("ID=pulled\n", File.ReadAllText(Path.Combine(pulled.Root, "etc", "os-release")));
        Assert.AreEqual(Digest(image.Manifest), pulled.Digest, "the amd64 manifest");
        Assert.AreEqual($"docker://{Host}/team/base:12@{Digest(image.Index)}", pulled.Source, "what the tag resolved to");
        Assert.AreEqual($"{Host}/team/base:12", pulled.BaseName);
        Assert.AreEqual("registry", pulled.Form);
        Assert.IsFalse(registry.Seen.Any(r => r.Uri.AbsolutePath.Contains(new string('9', 64), StringComparison.Ordinal)), "the other platform's manifest is never asked for");

        // Pinned by the index's digest, with every request failing: from the cache, not one request.
        RegistryHostileTests.FakeRegistry stopped = Stopped();
        MaterializedSysroot pinned = Pull($"docker://{Host}/team/base@{Digest(image.Index)}", cache, stopped);
        Assert.AreEqual(pulled.Root, pinned.Root);
        Assert.AreEqual(0, stopped.Seen.Count, "a pinned reference in the cache needs no network");
        Assert.AreEqual($"{Host}/team/base", pinned.BaseName);

        // The tag, with the registry stopped: coded, naming the digest to pin.
        OciBundleException offline = Fails(() => Pull($"docker://{Host}/team/base:12", cache, Stopped()));
        Assert.AreEqual("OCIB1622", offline.Code, offline.Message);
        StringAssert.Contains(offline.Message, $"pin a digest to build offline (docker://{Host}/team/base:12@{Digest(image.Index)}");

        // A pin never pulled, with the registry stopped: says one pull is needed first.
        OciBundleException never = Fails(() => Pull($"docker://{Host}/team/other@sha256:{new string('1', 64)}", cache, Stopped()));
        Assert.AreEqual("OCIB1622", never.Code);
        StringAssert.Contains(never.Message, "a pinned build needs one pull while the registry can be reached");
    }

    [TestMethod]
    public void AnUnknownRepositoryTagOrPlatformIsItsOwnCode()
    {
        using var dir = new TempDirectory();
        var image = new Image();
        OciBundleException tag = Fails(() => Pull($"docker://{Host}/team/base:13", dir.Combine("cache"), image.Registry()));
        Assert.AreEqual("OCIB1624", tag.Code, tag.Message);
        StringAssert.Contains(tag.Message, "it has the tags 12, latest");
        OciBundleException repository = Fails(() => Pull($"docker://{Host}/team/nothing:12", dir.Combine("cache"), image.Registry()));
        Assert.AreEqual("OCIB1623", repository.Code, repository.Message);
        OciBundleException platform = Fails(() => Pull($"docker://{Host}/team/base:12", dir.Combine("cache"), image.Registry(), Arm64));
        Assert.AreEqual(Strings.SysrootRegistryPlatformNotFound.Format($"docker://{Host}/team/base:12", "arm64", "linux/amd64, linux/s390x"), platform.Message);
        Assert.IsFalse(Directory.Exists(dir.Combine("cache")) && Directory.GetDirectories(dir.Combine("cache")).Any(d => !Path.GetFileName(d).StartsWith('.')), "nothing unpacked");
    }

    [TestMethod]
    public void AHostileRegistrysAnswersAreRefusedAndNothingStaysInTheCache()
    {
        var image = new Image();
        string manifestPath = $"/v2/team/base/manifests/{Digest(image.Manifest)}";
        string layerPath = $"/v2/team/base/blobs/{Digest(image.Layer)}";
        var cases = new (string Name, string Code, string Says, Func<string, HttpResponseMessage?> Alter)[]
        {
            ("a manifest that is not the digest asked for", "OCIB1629", "its digest is", p => p == manifestPath ? Ok(new Image("ID=evil\n").Manifest) : null),
            ("a layer longer than declared", "OCIB1629", $"more than the {image.Layer.Length} bytes", p => p == layerPath ? Ok(image.Layer.Concat(new byte[100]).ToArray()) : null),
            ("a layer cut short", "OCIB1629", "bytes, the manifest declares", p => p == layerPath ? Ok(image.Layer[..^10]) : null),
            ("a layer of other bytes", "OCIB1629", "its digest is", p => p == layerPath ? Ok(image.Layer.Select(b => (byte)~b).ToArray()) : null),
            ("Docker schema 1", "OCIB1630", "schema version 1", p => p == "/v2/team/base/manifests/12" ? Ok(Encoding.UTF8.GetBytes("{\"schemaVersion\":1,\"name\":\"team/base\",\"tag\":\"12\",\"fsLayers\":[]}")) : null),
            ("a huge manifest", "OCIB1630", "larger than a manifest can be", p => p == "/v2/team/base/manifests/12" ? Ok(new byte[5 << 20]) : null),
            ("not JSON", "OCIB1630", "not a JSON object", p => p == "/v2/team/base/manifests/12" ? Ok(Encoding.UTF8.GetBytes("<html>login</html>")) : null),
        };
        foreach ((string name, string code, string says, Func<string, HttpResponseMessage?> alter) in cases)
        {
            using var dir = new TempDirectory();
            OciBundleException e = Fails(() => Pull($"docker://{Host}/team/base:12", dir.Combine("cache"), image.Registry(alter)));
            Assert.AreEqual(code, e.Code, $"{name}: {e.Message}");
            StringAssert.Contains(e.Message, says, name);
            Assert.IsFalse(Directory.Exists(dir.Combine("cache")) && Directory.GetDirectories(dir.Combine("cache")).Any(d => !Path.GetFileName(d).StartsWith('.')), $"{name}: nothing unpacked");
        }

        static HttpResponseMessage Ok(byte[] body) => new(HttpStatusCode.OK) { Content = new ByteArrayContent(body) };
    }

    [TestMethod]
    public void MissingOrRefusedCredentialsAreThePullsOwnCodes()
    {
        using var dir = new TempDirectory();
        var image = new Image();
        var basic = new RegistryHostileTests.FakeRegistry(_ => RegistryHostileTests.Answer(HttpStatusCode.Unauthorized, "", ("WWW-Authenticate", "Basic realm=\"test\"")));
        OciBundleException missing = Fails(() => RegistrySysroot.Materialize(Spec($"docker://{Host}/team/base:12", dir.Combine("cache")), Amd64, _ => { }, CancellationToken.None, k => k == "HOME" ? "/nonexistent" : null, basic));
        Assert.AreEqual("OCIB1625", missing.Code, missing.Message);
        OciBundleException refused = Fails(() => RegistrySysroot.Materialize(Spec($"docker://{Host}/team/base:12", dir.Combine("cache")), Amd64, _ => { }, CancellationToken.None,
            k => k switch { "OCIBUNDLE_REGISTRY_USERNAME" => "me", "OCIBUNDLE_REGISTRY_PASSWORD" => "Pa55-secret", _ => null }, basic));
        Assert.AreEqual("OCIB1626", refused.Code, refused.Message);
        Assert.IsFalse(refused.Message.Contains("Pa55-secret", StringComparison.Ordinal));
        Assert.IsTrue(basic.Seen.All(r => r.Uri.AbsolutePath.StartsWith("/v2/team/base/", StringComparison.Ordinal) && r.Uri.Scheme == "http"), "plain HTTP: the registry is in the insecure list");
    }
}
