using System.Security.Cryptography;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Tasks;
using OciBundle.Testing;
using Fixture = OciBundle.Tests.SafetyTests.Fixture;

namespace OciBundle.Tests;

/// <summary>
/// Issue 13's SBOM through the task, on the safety tests' small app and fixture sysroot, given a dpkg database, an
/// os-release, a deps.json with a NuGet package, and a NuGet folder holding that package's nuspec.
/// </summary>
[TestClass]
public sealed class SbomTests
{
    private const string Status = """
        Package: libc6
        Status: install ok installed
        Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
        Architecture: amd64
        Multi-Arch: same
        Source: glibc
        Version: 2.36-9+deb12u14
        Description: GNU C Library: Shared libraries

        Package: nano
        Status: install ok installed
        Architecture: amd64
        Version: 7.2-1

        Package: tzdata
        Status: install ok installed
        Architecture: all
        Version: 2026f-0+deb12u1

        """;

    /// <summary>The fixture, made a Debian sysroot with an app that has one NuGet package (Acme.Json 1.2.3, MIT).</summary>
    private static Fixture Debian(out string nugetRoot)
    {
        var f = new Fixture();
        Directory.CreateDirectory(Path.Combine(f.Sysroot, "etc"));
        File.WriteAllText(Path.Combine(f.Sysroot, "etc", "os-release"), "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
        File.WriteAllText(Path.Combine(f.Sysroot, "etc", "debian_version"), "12.13\n");
        string dpkg = Path.Combine(f.Sysroot, "var", "lib", "dpkg");
        Directory.CreateDirectory(Path.Combine(dpkg, "info"));
        File.WriteAllText(Path.Combine(dpkg, "status"), Status.Replace("        ", "", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(dpkg, "info", "libc6:amd64.list"), "/.\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n/lib/x86_64-linux-gnu/libm.so.6\n/lib64/ld-linux-x86-64.so.2\n");
        File.WriteAllText(Path.Combine(dpkg, "info", "nano.list"), "/bin/nano\n");
        File.WriteAllText(Path.Combine(dpkg, "info", "tzdata.list"), "/usr/share/zoneinfo/UTC\n");
        Directory.CreateDirectory(Path.Combine(f.Sysroot, "usr", "share", "doc", "libc6"));
        File.WriteAllText(Path.Combine(f.Sysroot, "usr", "share", "doc", "libc6", "copyright"),
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: LGPL-2.1+\n\nFiles: debian/*\nLicense: GPL-2+ or Expat\n");

        File.WriteAllBytes(Path.Combine(f.PublishDir, "Acme.Json.dll"), "not really a dll"u8.ToArray());
        byte[] packageHash = SHA512.HashData("the nupkg"u8);
        File.WriteAllText(Path.Combine(f.PublishDir, "Hello.deps.json"), $$"""
            {
              "runtimeTarget": { "name": ".NETCoreApp,Version=v10.0/linux-x64", "signature": "" },
              "targets": {
                ".NETCoreApp,Version=v10.0/linux-x64": {
                  "Hello/2.5.0": { "dependencies": { "Acme.Json": "1.2.3" }, "runtime": { "Hello.dll": {} } },
                  "Acme.Json/1.2.3": { "runtime": { "lib/net8.0/Acme.Json.dll": { "assemblyVersion": "1.2.3.0" } } }
                }
              },
              "libraries": {
                "Hello/2.5.0": { "type": "project", "serviceable": false, "sha512": "" },
                "Acme.Json/1.2.3": { "type": "package", "serviceable": true, "sha512": "sha512-{{Convert.ToBase64String(packageHash)}}", "path": "acme.json/1.2.3" }
              }
            }
            """);
        nugetRoot = Path.Combine(f.Root, "nuget");
        Directory.CreateDirectory(Path.Combine(nugetRoot, "acme.json", "1.2.3"));
        File.WriteAllText(Path.Combine(nugetRoot, "acme.json", "1.2.3", "acme.json.nuspec"),
            "<?xml version=\"1.0\"?><package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\"><metadata><id>Acme.Json</id><version>1.2.3</version><license type=\"expression\">MIT OR Apache-2.0</license></metadata></package>");
        return f;
    }

    private static JObject Sbom(Fixture f) => JObject.Parse(File.ReadAllText(Path.Combine(f.Bundle, "sbom.spdx.json")));

    private static JObject Package(JObject sbom, string name) =>
        sbom["packages"]!.OfType<JObject>().SingleOrDefault(p => (string?)p["name"] == name && (string?)p["SPDXID"] != "SPDXRef-Bundle" && (string?)p["SPDXID"] != "SPDXRef-App")
        ?? throw new AssertFailedException($"no package {name} in the SBOM: {string.Join(", ", sbom["packages"]!.Select(p => (string?)p["name"]))}");

    /// <summary>Rootfs path to the SPDX id of the package (or the bundle) that CONTAINS it.</summary>
    private static Dictionary<string, string> Containers(JObject sbom)
    {
        var ids = sbom["files"]!.ToDictionary(f => (string)f["SPDXID"]!, f => (string)f["fileName"]!);
        return sbom["relationships"]!.Where(r => (string?)r["relationshipType"] == "CONTAINS" && ids.ContainsKey((string)r["relatedSpdxElement"]!))
            .ToDictionary(r => ids[(string)r["relatedSpdxElement"]!], r => (string)r["spdxElementId"]!);
    }

    [TestMethod]
    public void EveryFileIsListedWithItsChecksumsAndThePackageThatBroughtIt()
    {
        using Fixture f = Debian(out string nuget);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        JObject sbom = Sbom(f);

        // Every regular file of rootfs but the SBOM itself, with the SHA-256 and SHA-1 of the bytes written.
        string rootfs = Path.Combine(f.Bundle, "rootfs");
        var onDisk = TestEnvironment.RegularFiles(rootfs).Select(p => p[rootfs.Length..]).Where(p => p != "/usr/share/sbom/sbom.spdx.json").Order(StringComparer.Ordinal).ToArray();
        var listed = sbom["files"]!.ToDictionary(x => (string)x["fileName"]!, x => x["checksums"]!.ToDictionary(c => (string)c["algorithm"]!, c => (string)c["checksumValue"]!));
        CollectionAssert.AreEqual(onDisk, listed.Keys.Order(StringComparer.Ordinal).ToArray(), "on disk: " + string.Join(" ", onDisk) + "\nlisted: " + string.Join(" ", listed.Keys.Order(StringComparer.Ordinal)));
        foreach (string path in onDisk)
        {
            byte[] bytes = File.ReadAllBytes(rootfs + path);
            Assert.AreEqual(Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), listed[path]["SHA256"], path);
            Assert.AreEqual(Convert.ToHexString(SHA1.HashData(bytes)).ToLowerInvariant(), listed[path]["SHA1"], path);
        }

        // The Debian package that owns files, with the purl scanners match advisories on; not nano, which owns none here.
        JObject libc = Package(sbom, "libc6");
        Assert.AreEqual("2.36-9+deb12u14", (string?)libc["versionInfo"]);
        Assert.AreEqual("pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12&upstream=glibc", (string?)libc["externalRefs"]![0]!["referenceLocator"]);
        Assert.AreEqual("PACKAGE-MANAGER", (string?)libc["externalRefs"]![0]!["referenceCategory"]);
        Assert.AreEqual("(GPL-2.0-or-later OR MIT) AND LGPL-2.1-or-later", (string?)libc["licenseDeclared"], "from its machine-readable copyright file");
        Assert.AreEqual("Organization: GNU Libc Maintainers (debian-glibc@lists.debian.org)", (string?)libc["supplier"]);
        Assert.IsFalse(sbom["packages"]!.Any(p => (string?)p["name"] is "nano" or "tzdata"), "packages without a file in rootfs are not listed");
        Dictionary<string, string> containers = Containers(sbom);
        Assert.AreEqual((string)libc["SPDXID"]!, containers["/usr/lib/x86_64-linux-gnu/libc.so.6"], "listed as /lib/... in a merged-usr sysroot");
        JObject os = sbom["packages"]!.OfType<JObject>().Single(p => (string?)p["primaryPackagePurpose"] == "OPERATING_SYSTEM");
        Assert.AreEqual("debian", (string?)os["name"]);
        Assert.AreEqual("12", (string?)os["versionInfo"]);

        // The NuGet package from deps.json: version, purl, the nuspec's license expression, its file; no .nupkg in the
        // package folder, so no checksum (deps.json's hash is NuGet's contentHash, not a file's), which an annotation keeps.
        JObject acme = Package(sbom, "Acme.Json");
        Assert.AreEqual("1.2.3", (string?)acme["versionInfo"]);
        Assert.AreEqual("pkg:nuget/Acme.Json@1.2.3", (string?)acme["externalRefs"]![0]!["referenceLocator"]);
        Assert.AreEqual("MIT OR Apache-2.0", (string?)acme["licenseDeclared"]);
        Assert.IsNull(acme["checksums"], "no package file, no checksum");
        StringAssert.Contains((string?)acme["annotations"]![0]!["comment"], "NuGet contentHash: sha512-" + Convert.ToBase64String(SHA512.HashData("the nupkg"u8)) + " ");
        Assert.AreEqual((string)acme["SPDXID"]!, containers["/app/Acme.Json.dll"]);

        // The app (the project of deps.json, with its version) holds the rest of the publish output; generated files are said to be.
        JObject app = sbom["packages"]!.OfType<JObject>().Single(p => (string?)p["SPDXID"] == "SPDXRef-App");
        Assert.AreEqual("2.5.0", (string?)app["versionInfo"]);
        Assert.AreEqual("SPDXRef-App", containers["/app/Hello"]);
        Assert.AreEqual("SPDXRef-Bundle", containers["/etc/passwd"]);
        Assert.AreEqual("generated by OciBundle.Sdk", (string?)sbom["files"]!.Single(x => (string?)x["fileName"] == "/etc/passwd")["comment"]);
        Assert.IsTrue(sbom["relationships"]!.Any(r => (string?)r["spdxElementId"] == "SPDXRef-DOCUMENT" && (string?)r["relationshipType"] == "DESCRIBES" && (string?)r["relatedSpdxElement"] == "SPDXRef-Bundle"));

        // In rootfs too, byte for byte, and in provenance.json with its reason.
        CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(f.Bundle, "sbom.spdx.json")), File.ReadAllBytes(rootfs + "/usr/share/sbom/sbom.spdx.json"));
        StringAssert.Contains(File.ReadAllText(Path.Combine(f.Bundle, "provenance.json")), "the SBOM of this root file system");
    }

    [TestMethod]
    public void TheSbomIsValidSpdx23AndTheValidatorRejectsABrokenCopy()
    {
        using Fixture f = Debian(out string nuget);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        string path = Path.Combine(f.Bundle, "sbom.spdx.json");
        Assert.AreEqual("", SchemaValidator.ValidateSpdx(path));

        // Shown able to fail: a checksum algorithm SPDX does not know, and a package without its downloadLocation.
        JObject broken = Sbom(f);
        broken["files"]![0]!["checksums"]![0]!["algorithm"] = "CRC32";
        ((JObject)broken["packages"]![0]!).Remove("downloadLocation");
        string copy = Path.Combine(f.Root, "broken.spdx.json");
        File.WriteAllText(copy, broken.ToString());
        string errors = SchemaValidator.ValidateSpdx(copy);
        StringAssert.Contains(errors, "CRC32");
        StringAssert.Contains(errors, "downloadLocation");
    }

    [TestMethod]
    public void TwoCleanBuildsGiveTheSameBytesAndAnAppChangeChangesOnlyTheAppsEntries()
    {
        using Fixture f = Debian(out string nuget);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        byte[] first = File.ReadAllBytes(Path.Combine(f.Bundle, "sbom.spdx.json"));
        Directory.Delete(f.Bundle, recursive: true);
        File.Delete(f.State);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        CollectionAssert.AreEqual(first, File.ReadAllBytes(Path.Combine(f.Bundle, "sbom.spdx.json")), "a clean build: the same bytes");

        // A new app: only its file's checksums and the document's namespace differ.
        File.WriteAllText(Path.Combine(f.PublishDir, "Hello"), "#!/bin/sh\necho hello, world\n");
        f.Publish(t => t.NuGetPackageRoot = nuget);
        string[] before = System.Text.Encoding.UTF8.GetString(first).Split('\n');
        string[] after = File.ReadAllLines(Path.Combine(f.Bundle, "sbom.spdx.json"));
        Assert.AreEqual(before.Length - 1, after.Length, "the same lines");
        var changed = before.Zip(after).Where(p => p.First != p.Second).ToList();
        Assert.AreEqual(3, changed.Count, string.Join("\n", changed));
        StringAssert.Contains(changed[0].Second, "documentNamespace");
        string[] hello = File.ReadAllLines(Path.Combine(f.Bundle, "sbom.spdx.json")).SkipWhile(l => !l.Contains("\"/app/Hello\"", StringComparison.Ordinal)).Take(12).ToArray();
        Assert.IsTrue(changed.Skip(1).All(c => hello.Contains(c.Second)), "the other two are /app/Hello's checksums");
    }

    [TestMethod]
    public void AChangedSourceGetsItsNewChecksumNotTheRememberedOne()
    {
        using Fixture f = Debian(out string nuget);
        f.Publish(t => t.NuGetPackageRoot = nuget);

        // A library rewritten in place (same inode, new bytes, as a careless tool might): the next publish sees a new
        // identity, hashes it again and lists its new checksum; the app's script, unchanged, keeps the one remembered.
        string libc = Path.Combine(f.Sysroot, "usr", "lib", "x86_64-linux-gnu", "libc.so.6");
        using (var stream = new FileStream(libc, FileMode.Open, FileAccess.Write))
        {
            stream.Seek(0, SeekOrigin.End);
            stream.Write("appended"u8);
        }

        f.Publish(t => t.NuGetPackageRoot = nuget);
        var files = Sbom(f)["files"]!.ToDictionary(x => (string)x["fileName"]!, x => (string)x["checksums"]!.Single(c => (string?)c["algorithm"] == "SHA256")["checksumValue"]!);
        Assert.AreEqual(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(libc))).ToLowerInvariant(), files["/usr/lib/x86_64-linux-gnu/libc.so.6"]);
        Assert.AreEqual(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(f.PublishDir, "Hello")))).ToLowerInvariant(), files["/app/Hello"]);
    }

    [TestMethod]
    public void PackageOwnersAreRememberedForListsUnchangedAndReadAgainWhenOneChanges()
    {
        using Fixture f = Debian(out string nuget);
        string cache = Path.Combine(f.Root, "cache");
        string list = Path.Combine(f.Sysroot, "var", "lib", "dpkg", "info", "libc6:amd64.list");
        string? OwnerOfLibc() => (string?)Sbom(f)["relationships"]!
            .Where(r => (string?)r["relationshipType"] == "CONTAINS" && (string?)r["relatedSpdxElement"] == Sbom(f)["files"]!.Single(x => (string?)x["fileName"] == "/usr/lib/x86_64-linux-gnu/libc.so.6")["SPDXID"]!.ToString())
            .Select(r => (string?)r["spdxElementId"]).SingleOrDefault();
        void CleanPublish()
        {
            Directory.Delete(f.Bundle, recursive: true);
            File.Delete(f.State);
            f.Publish(t => { t.NuGetPackageRoot = nuget; t.CacheDirectory = cache; });
        }

        f.Publish(t => { t.NuGetPackageRoot = nuget; t.CacheDirectory = cache; });
        string libc6 = OwnerOfLibc()!;
        StringAssert.Contains(libc6, "libc6");
        Assert.IsTrue(File.Exists(Path.Combine(f.Bundle, "rootfs", "var", "lib", "dpkg", "status.d", "libc6")));
        string entry = Directory.GetFiles(Path.Combine(cache, "digests")).Single(e => File.ReadAllText(e).StartsWith("ocibundle-dpkg-owners 1\n", StringComparison.Ordinal));
        StringAssert.Contains(File.ReadAllText(entry), "/usr/lib/x86_64-linux-gnu/libc.so.6\tlibc6:amd64\n", "the answer asked, with the merged-usr path");

        // Shown to be used by a clean build: an answer altered by hand (libc owned by nobody) is believed...
        File.WriteAllText(entry, File.ReadAllText(entry).Replace("/usr/lib/x86_64-linux-gnu/libc.so.6\tlibc6:amd64\n", "/usr/lib/x86_64-linux-gnu/libc.so.6\t\n", StringComparison.Ordinal));
        CleanPublish();
        Assert.AreNotEqual(libc6, OwnerOfLibc(), "the remembered answer, not the list, was used");
        Assert.IsFalse(File.Exists(Path.Combine(f.Bundle, "rootfs", "var", "lib", "dpkg", "status.d", "libc6")));

        // ...but never once a list changed (a package upgrade rewrites it): then the lists are read again.
        File.AppendAllText(list, "/usr/share/doc/libc6\n");
        CleanPublish();
        Assert.AreEqual(libc6, OwnerOfLibc());
        Assert.IsTrue(File.Exists(Path.Combine(f.Bundle, "rootfs", "var", "lib", "dpkg", "status.d", "libc6")));

        // Nor an answer naming a package whose list is not there (a name that would become a path).
        File.WriteAllText(entry, File.ReadAllText(entry).Replace("/usr/lib/x86_64-linux-gnu/libc.so.6\tlibc6:amd64\n", "/usr/lib/x86_64-linux-gnu/libc.so.6\t../../../etc/x\n", StringComparison.Ordinal));
        CleanPublish();
        Assert.AreEqual(libc6, OwnerOfLibc());

        // And not at all when others can write the cache.
        File.WriteAllText(entry, File.ReadAllText(entry).Replace("/usr/lib/x86_64-linux-gnu/libc.so.6\tlibc6:amd64\n", "/usr/lib/x86_64-linux-gnu/libc.so.6\t\n", StringComparison.Ordinal));
        File.SetUnixFileMode(Path.Combine(cache, "digests"), (UnixFileMode)0b111_111_111);
        CleanPublish();
        Assert.AreEqual(libc6, OwnerOfLibc());
    }

    [TestMethod]
    public void InstalledPackagesAreRememberedForTheStatusFileUnchangedGiveTheBytesOfAFreshPlanAndAreReadAgainWhenItChanges()
    {
        using Fixture f = Debian(out string nuget);
        string cache = Path.Combine(f.Root, "cache");
        string status = Path.Combine(f.Sysroot, "var", "lib", "dpkg", "status");
        string libc6 = Path.Combine(f.Bundle, "rootfs", "var", "lib", "dpkg", "status.d", "libc6");
        Dictionary<string, byte[]> Planned() => new[] { "config.json", "sbom.spdx.json" }
            .Concat(Directory.GetFiles(Path.Combine(f.Bundle, "rootfs", "var", "lib", "dpkg", "status.d")).Select(p => Path.GetRelativePath(f.Bundle, p)))
            .ToDictionary(p => p, p => File.ReadAllBytes(Path.Combine(f.Bundle, p)));
        void CleanPublish(string withCache)
        {
            Directory.Delete(f.Bundle, recursive: true);
            File.Delete(f.State);
            f.Publish(t => { t.NuGetPackageRoot = nuget; t.CacheDirectory = withCache; });
        }

        f.Publish(t => { t.NuGetPackageRoot = nuget; t.CacheDirectory = cache; });
        string entry = Directory.GetFiles(Path.Combine(cache, "digests")).Single(e => File.ReadAllText(e).StartsWith("ocibundle-dpkg-status 1\n", StringComparison.Ordinal));

        // An app change planned with the stanzas remembered gives, byte for byte, what a plan with no cache and no state gives.
        File.AppendAllText(Path.Combine(f.PublishDir, "Hello"), "echo changed\n");
        f.Publish(t => { t.NuGetPackageRoot = nuget; t.CacheDirectory = cache; });
        Dictionary<string, byte[]> reused = Planned();
        CleanPublish(Path.Combine(f.Root, "fresh-cache"));
        Dictionary<string, byte[]> fresh = Planned();
        CollectionAssert.AreEquivalent(fresh.Keys, reused.Keys);
        Assert.IsTrue(fresh.ContainsKey("rootfs/var/lib/dpkg/status.d/libc6"), string.Join(", ", fresh.Keys));
        foreach ((string path, byte[] bytes) in fresh)
        {
            CollectionAssert.AreEqual(bytes, reused[path], path);
        }

        // Shown to be used: a stanza altered by hand in the cache is believed...
        string[] lines = File.ReadAllLines(entry);
        int line = Array.FindIndex(lines, l => l.StartsWith("libc6:amd64\t", StringComparison.Ordinal));
        Assert.IsTrue(line > 0, File.ReadAllText(entry));
        string stanza = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(lines[line].Split('\t')[1]));
        StringAssert.StartsWith(File.ReadAllText(libc6), "Package: libc6\n");
        Assert.AreEqual(File.ReadAllText(libc6), stanza);
        string altered = System.Text.RegularExpressions.Regex.Replace(stanza, "Version: [^\n]+", "Version: 9.9-remembered");
        lines[line] = "libc6:amd64\t" + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(altered));
        File.WriteAllLines(entry, lines);
        CleanPublish(cache);
        StringAssert.Contains(File.ReadAllText(libc6), "Version: 9.9-remembered", "the remembered stanza, not the status file, was used");

        // ...but never once the status file changed (dpkg rewrites it on every install): then it is read again.
        File.AppendAllText(status, "\n");
        CleanPublish(cache);
        Assert.AreEqual(stanza, File.ReadAllText(libc6));
        Assert.IsFalse(File.ReadAllText(entry).Contains(lines[line], StringComparison.Ordinal), "the answers are kept for the new identity");
    }

    [TestMethod]
    public void LicensesAreRememberedByTheIdentityOfTheFileTheyWereReadFrom()
    {
        using Fixture f = Debian(out string nuget);
        string cache = Path.Combine(f.Root, "cache");
        string copyright = Path.Combine(f.Sysroot, "usr", "share", "doc", "libc6", "copyright");
        string? LibcLicense() => (string?)Package(Sbom(f), "libc6")["licenseDeclared"];
        void CleanPublish()
        {
            Directory.Delete(f.Bundle, recursive: true);
            File.Delete(f.State);
            f.Publish(t => { t.NuGetPackageRoot = nuget; t.CacheDirectory = cache; });
        }

        f.Publish(t => { t.NuGetPackageRoot = nuget; t.CacheDirectory = cache; });
        const string Read = "(GPL-2.0-or-later OR MIT) AND LGPL-2.1-or-later";
        Assert.AreEqual(Read, LibcLicense());
        string entry = Directory.GetFiles(Path.Combine(cache, "digests")).Single(e => File.ReadAllText(e).StartsWith("ocibundle-licenses 1\n", StringComparison.Ordinal));
        string[] lines = File.ReadAllLines(entry);
        int line = Array.FindIndex(lines, l => l.StartsWith(copyright + "\t", StringComparison.Ordinal));
        Assert.IsTrue(line > 0, File.ReadAllText(entry));
        Assert.IsTrue(lines.Any(l => l.Contains("acme.json.nuspec\t", StringComparison.Ordinal)), "the nuspec's license too");

        // Shown to be used: a license altered by hand in the cache is believed while the file keeps its identity...
        string[] remembered = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(lines[line].Split('\t')[1])).Split('\n');
        Assert.AreEqual(Read, remembered[1]);
        lines[line] = copyright + "\t" + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(remembered[0] + "\nMIT"));
        File.WriteAllLines(entry, lines);
        CleanPublish();
        Assert.AreEqual("MIT", LibcLicense(), "the remembered license, not the file, was used");

        // ...but never once the file was written again: then it is read again.
        File.AppendAllText(copyright, "\n");
        CleanPublish();
        Assert.AreEqual(Read, LibcLicense());
    }

    [TestMethod]
    public void TheDigestCacheSpansCleanBuildsButNeverOutlivesAChangeAndIsIgnoredWhenOthersCanWriteIt()
    {
        using Fixture f = Debian(out string nuget);
        string cache = Path.Combine(f.Root, "cache");
        string libc = Path.Combine(f.Sysroot, "usr", "lib", "x86_64-linux-gnu", "libc.so.6");
        string Sha256Listed() => (string)Sbom(f)["files"]!.Single(x => (string?)x["fileName"] == "/usr/lib/x86_64-linux-gnu/libc.so.6")["checksums"]!
            .Single(c => (string?)c["algorithm"] == "SHA256")["checksumValue"]!;
        string original = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(libc))).ToLowerInvariant();
        void CleanPublish()
        {
            Directory.Delete(f.Bundle, recursive: true);
            File.Delete(f.State);
            f.Publish(t => { t.NuGetPackageRoot = nuget; t.CacheDirectory = cache; });
        }

        f.Publish(t => { t.NuGetPackageRoot = nuget; t.CacheDirectory = cache; });
        Assert.AreEqual(original, Sha256Listed());
        string[] entries = Directory.GetFiles(Path.Combine(cache, "digests"));
        Assert.IsTrue(entries.Length >= 2, "one entry per source folder");
        Assert.AreEqual((UnixFileMode)0b111_000_000, File.GetUnixFileMode(Path.Combine(cache, "digests")), "the user's alone");

        // Shown to be used by a clean build: an entry altered by hand (same identity, false digest) is believed...
        string entry = entries.Single(e => File.ReadAllText(e).Contains("\nlibc.so.6\t", StringComparison.Ordinal));
        string forged = new('0', 64);
        File.WriteAllText(entry, System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(entry), "(\nlibc\\.so\\.6\t[^\t]+\t[0-9a-f]{40}) [0-9a-f]{64}", "$1 " + forged));
        CleanPublish();
        Assert.AreEqual(forged, Sha256Listed(), "the cache spared the clean build hashing libc");

        // ...but not once the folder can be written by others: then nothing in it is trusted.
        File.SetUnixFileMode(Path.Combine(cache, "digests"), (UnixFileMode)0b111_111_111);
        CleanPublish();
        Assert.AreEqual(original, Sha256Listed());
        StringAssert.Contains(string.Join("\n", f.Engine.Messages.Select(m => m.Message)), "Not using the digest cache");
        File.SetUnixFileMode(Path.Combine(cache, "digests"), (UnixFileMode)0b111_000_000);

        // And never for a file changed since, even rewritten in place with its old mtime (the ctime tells).
        File.WriteAllText(entry, System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(entry), "(\nlibc\\.so\\.6\t[^\t]+\t[0-9a-f]{40}) [0-9a-f]{64}", "$1 " + forged));
        DateTime mtime = File.GetLastWriteTimeUtc(libc);
        using (var stream = new FileStream(libc, FileMode.Open, FileAccess.Write))
        {
            stream.Seek(0, SeekOrigin.End);
            stream.Write("x"u8);
        }

        File.SetLastWriteTimeUtc(libc, mtime);
        CleanPublish();
        Assert.AreEqual(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(libc))).ToLowerInvariant(), Sha256Listed());
    }

    [TestMethod]
    public void ASysrootWithoutAPackageDatabaseSaysSoAndListsItsFilesAsUnowned()
    {
        using Fixture f = Debian(out string nuget);
        Directory.Delete(Path.Combine(f.Sysroot, "var"), recursive: true);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        JObject sbom = Sbom(f);
        StringAssert.Contains((string?)sbom["comment"], "no dpkg database");
        Dictionary<string, string> containers = Containers(sbom);
        Assert.AreEqual("SPDXRef-Bundle", containers["/usr/lib/x86_64-linux-gnu/libc.so.6"]);
        StringAssert.Contains((string?)sbom["files"]!.Single(x => (string?)x["fileName"] == "/usr/lib/x86_64-linux-gnu/libc.so.6")["comment"], "no package is known to own it");
        Assert.IsFalse(sbom["packages"]!.Any(p => ((string?)p["externalRefs"]?[0]?["referenceLocator"])?.StartsWith("pkg:deb/", StringComparison.Ordinal) == true));
        StringAssert.Contains(string.Join("\n", f.Engine.Messages.Select(m => m.Message)), "The sysroot has no dpkg database");
    }

    [TestMethod]
    public void OnlyFilesTakenFromTheSysrootMakeAPackageInstalled()
    {
        using Fixture f = Debian(out string nuget);
        // nano's list names the app's own file and a path the user fills with OciBundleFile: neither installs nano.
        string dpkg = Path.Combine(f.Sysroot, "var", "lib", "dpkg");
        File.WriteAllText(Path.Combine(dpkg, "info", "nano.list"), "/bin/nano\n/app/Hello\n/usr/bin/nano-tool\n");
        string tool = Path.Combine(f.Root, "nano-tool");
        File.WriteAllText(tool, "mine\n");
        f.Publish(t => { t.NuGetPackageRoot = nuget; t.Files = new Microsoft.Build.Framework.ITaskItem[] { new Microsoft.Build.Utilities.TaskItem(tool, new Dictionary<string, string> { ["TargetPath"] = "/usr/bin/nano-tool" }) }; });
        CollectionAssert.AreEqual(new[] { "libc6" }, Directory.GetFiles(Path.Combine(f.Bundle, "rootfs", "var", "lib", "dpkg", "status.d")).Select(Path.GetFileName).ToArray());
        Assert.IsFalse(Sbom(f)["packages"]!.Any(p => (string?)p["name"] == "nano"));

        // A user's file where a stanza goes is a conflict, not a silent replacement of what scanners read.
        CollectionAssert.AreEqual(new[] { "OCIB2004" }, f.Fail(t => t.Files = new Microsoft.Build.Framework.ITaskItem[] { new Microsoft.Build.Utilities.TaskItem(tool, new Dictionary<string, string> { ["TargetPath"] = "/var/lib/dpkg/status.d/libc6" }) }));
    }

    [TestMethod]
    public void ADatabaseIsReadInsideTheSysrootOnlyAndNeverBlocksOrFloods()
    {
        using Fixture f = Debian(out string nuget);
        string dpkg = Path.Combine(f.Sysroot, "var", "lib", "dpkg");

        // Links to the host's database: followed as inside the sysroot, where they lead nowhere, so no host package appears.
        string status = Path.Combine(dpkg, "status");
        File.Delete(status);
        File.CreateSymbolicLink(status, "/var/lib/dpkg/status");
        File.Delete(Path.Combine(f.Sysroot, "usr", "share", "doc", "libc6", "copyright"));
        File.CreateSymbolicLink(Path.Combine(f.Sysroot, "usr", "share", "doc", "libc6", "copyright"), "/usr/share/doc/libicu72/copyright");
        f.Publish(t => t.NuGetPackageRoot = nuget);
        JObject sbom = Sbom(f);
        StringAssert.Contains((string?)sbom["comment"], "has no status file", "the status file is the host's, not the sysroot's: none");
        Assert.IsFalse(sbom["packages"]!.Any(p => ((string?)p["externalRefs"]?[0]?["referenceLocator"])?.StartsWith("pkg:deb/", StringComparison.Ordinal) == true));

        // A FIFO as the status file: not read (a read would block the build for ever).
        File.Delete(status);
        Assert.AreEqual(0, TestEnvironment.RunCapture("mkfifo", status).ExitCode);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        StringAssert.Contains((string?)Sbom(f)["comment"], "has no status file");

        // A real status file again, with a stanza for a name dpkg never allows: ignored.
        File.Delete(status);
        File.WriteAllText(status, Status.Replace("        ", "", StringComparison.Ordinal) + "Package: ..\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n");
        File.WriteAllText(Path.Combine(dpkg, "info", "...list"), "/usr/lib/x86_64-linux-gnu/libc.so.6\n");
        f.Publish(t => t.NuGetPackageRoot = nuget);
        sbom = Sbom(f);
        Assert.AreEqual("2.36-9+deb12u14", (string?)Package(sbom, "libc6")["versionInfo"]);
        Assert.AreEqual("NOASSERTION", (string?)Package(sbom, "libc6")["licenseDeclared"], "its copyright file links out of the sysroot: not read");
        Assert.IsFalse(sbom["packages"]!.Any(p => (string?)p["name"] == ".."));
    }

    [TestMethod]
    [DataRow("\"runtimeTarget\": \"x\"")]
    [DataRow("\"runtimeTarget\": { \"name\": \"t\" }, \"targets\": { \"t\": { \"A/1.0\": { \"resources\": { \"x.dll\": \"de\" } } } }")]
    [DataRow("\"runtimeTarget\": { \"name\": \"t\" }, \"targets\": { \"t\": { \"A/1.0\": {} } }, \"libraries\": { \"A/1.0\": { \"type\": {} } }")]
    [DataRow("\"targets\": []")]
    public void ADepsJsonOfAnotherShapeIsACodedErrorOrIgnoredNeverACrash(string body)
    {
        using Fixture f = Debian(out string nuget);
        File.WriteAllText(Path.Combine(f.PublishDir, "Hello.deps.json"), "{ " + body + " }");
        BuildOciContainer task = f.Task(t => t.NuGetPackageRoot = nuget);
        bool ok = task.Execute();
        Assert.IsTrue(ok || f.Engine.Errors.Select(e => e.Code).SequenceEqual(new[] { "OCIB2014" }), string.Join("\n", f.Engine.Errors.Select(e => e.Code + ": " + e.Message)));
    }

    [TestMethod]
    public void ADepsJsonThatIsNotJsonIsOneCodedErrorThoughTheSbomsPrefetchReadItFirst()
    {
        // The prefetch reads deps.json beside the plan and keeps what it failed at to itself; the SBOM step reads the
        // file again and says why, once.
        using Fixture f = Debian(out string nuget);
        string deps = Path.Combine(f.PublishDir, "Hello.deps.json");
        File.WriteAllText(deps, "{ \"targets\": ");
        Assert.IsFalse(f.Task(t => t.NuGetPackageRoot = nuget).Execute());
        Assert.AreEqual("OCIB2014", f.Engine.Errors.Single().Code);
        StringAssert.Contains(f.Engine.Errors.Single().Message, deps);
    }

    [TestMethod]
    public void DepsJsonValuesAreCheckedBeforeTheyBecomePathsOrPurls()
    {
        using Fixture f = Debian(out string nuget);
        string outside = Path.Combine(f.Root, "outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "evil.json.nuspec"), "<package><metadata><license type=\"expression\">LEAKED-1.0</license></metadata></package>");
        File.WriteAllText(Path.Combine(f.PublishDir, "Hello.deps.json"), $$"""
            { "runtimeTarget": { "name": "t/linux-x64" }, "targets": { "t/linux-x64": {
                "Hello/1.0.0": {}, "Evil.Json/1.0.0": {}, "NoVersion/": {}, "Bad Name/1.0": {} } },
              "libraries": { "Evil.Json/1.0.0": { "type": "package", "path": "{{outside}}" } } }
            """);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        JObject sbom = Sbom(f);
        Assert.AreEqual("NOASSERTION", (string?)Package(sbom, "Evil.Json")["licenseDeclared"], "an absolute path is not followed out of the package folder");
        Assert.IsFalse(sbom["packages"]!.Any(p => (string?)p["name"] is "NoVersion" or "Bad Name"), "no purl without a version or with a name NuGet does not allow");
        Assert.AreEqual("", SchemaValidator.ValidateSpdx(Path.Combine(f.Bundle, "sbom.spdx.json")));
    }

    [TestMethod]
    [DataRow("MIT", true)]
    [DataRow("MIT OR Apache-2.0", true)]
    [DataRow("(MIT AND BSD-3-Clause) OR GPL-2.0-or-later WITH Classpath-exception-2.0", true)]
    [DataRow("LicenseRef-Acme", true)]
    [DataRow("((MIT AND AND OR", false)]
    [DataRow("MIT OR", false)]
    [DataRow("(MIT", false)]
    [DataRow("MIT)", false)]
    [DataRow("see LICENSE.txt", false)]
    [DataRow("", false)]
    public void OnlyAnSpdxExpressionByItsGrammarIsTakenFromANuspec(string expression, bool valid) =>
        Assert.AreEqual(valid, OciBundle.Spdx.DeclaredLicense.IsExpression(expression), expression);

    [TestMethod]
    public void ADebianCopyrightFilesChoicesStayChoices()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "copyright");
        File.WriteAllText(path, """
            Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
            Upstream-Name: OpenSSL

            Files: *
            License: Apache-2.0

            License: Apache-2.0
             The text.

            Files: external/perl/*
            License: Artistic or GPL-1+

            License: Artistic
             The text.

            License: GPL-1+
             The text.
            """.Replace("            ", "", StringComparison.Ordinal));
        Assert.AreEqual("(Artistic-1.0-Perl OR GPL-1.0-or-later) AND Apache-2.0", OciBundle.Spdx.DeclaredLicense.FromDebianCopyright(path));
        File.AppendAllText(path, "\nFiles: doc/*\nLicense: public-domain\n");
        Assert.AreEqual("NOASSERTION", OciBundle.Spdx.DeclaredLicense.FromDebianCopyright(path), "a license SPDX has no id for: nothing asserted");
    }

    [TestMethod]
    public void OciBundleSbomFalseWritesNoSbom()
    {
        using Fixture f = Debian(out string nuget);
        f.Publish(t => { t.NuGetPackageRoot = nuget; t.Sbom = false; });
        Assert.IsFalse(File.Exists(Path.Combine(f.Bundle, "sbom.spdx.json")));
        Assert.IsFalse(Directory.Exists(Path.Combine(f.Bundle, "rootfs", "usr", "share", "sbom")));
    }

    /// <summary>
    /// The fixture with two packages in a NuGet folder of its own: Newtonsoft.Json, this build's own signed package from
    /// the machine's NuGet folder (its .nupkg, .nupkg.sha512 and .nupkg.metadata copied), with deps.json's contentHash
    /// as the SDK writes it; and a runtime pack (deps.json has no hash and no path for one, as the SDK writes it) whose
    /// .nupkg is a file of the test's.
    /// </summary>
    private static Fixture WithRealPackage(out string nugetRoot, out string nupkg, out string runtimePack)
    {
        string version = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "Directory.Packages.props")), "\"Newtonsoft.Json\" Version=\"([^\"]+)\"").Groups[1].Value;
        string machine = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } n ? n : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string source = Path.Combine(machine, "newtonsoft.json", version);
        TestEnvironment.Require(File.Exists(Path.Combine(source, $"newtonsoft.json.{version}.nupkg")), $"the signed Newtonsoft.Json {version} package this build restores, in {source}");
        Fixture f = Debian(out nugetRoot);
        string folder = Path.Combine(nugetRoot, "newtonsoft.json", version);
        Directory.CreateDirectory(folder);
        foreach (string name in new[] { $"newtonsoft.json.{version}.nupkg", $"newtonsoft.json.{version}.nupkg.sha512", ".nupkg.metadata" })
        {
            File.Copy(Path.Combine(source, name), Path.Combine(folder, name));
        }

        nupkg = Path.Combine(folder, $"newtonsoft.json.{version}.nupkg");
        string contentHash = (string)JObject.Parse(File.ReadAllText(Path.Combine(folder, ".nupkg.metadata")))["contentHash"]!;
        runtimePack = Path.Combine(nugetRoot, "microsoft.netcore.app.runtime.linux-x64", "10.0.0", "microsoft.netcore.app.runtime.linux-x64.10.0.0.nupkg");
        Directory.CreateDirectory(Path.GetDirectoryName(runtimePack)!);
        File.WriteAllBytes(runtimePack, RandomNumberGenerator.GetBytes(3 << 20));
        File.WriteAllText(Path.Combine(f.PublishDir, "Hello.deps.json"), $$"""
            {
              "runtimeTarget": { "name": ".NETCoreApp,Version=v10.0/linux-x64", "signature": "" },
              "targets": {
                ".NETCoreApp,Version=v10.0/linux-x64": {
                  "Hello/2.5.0": { "dependencies": { "Newtonsoft.Json": "{{version}}" }, "runtime": { "Hello.dll": {} } },
                  "Newtonsoft.Json/{{version}}": { "runtime": { "lib/net6.0/Newtonsoft.Json.dll": { "assemblyVersion": "13.0.0.0" } } },
                  "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/10.0.0": { "runtime": { "System.Private.CoreLib.dll": {} } }
                }
              },
              "libraries": {
                "Hello/2.5.0": { "type": "project", "serviceable": false, "sha512": "" },
                "Newtonsoft.Json/{{version}}": { "type": "package", "serviceable": true, "sha512": "sha512-{{contentHash}}", "path": "newtonsoft.json/{{version}}", "hashPath": "newtonsoft.json.{{version}}.nupkg.sha512" },
                "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/10.0.0": { "type": "runtimepack", "serviceable": false, "sha512": "" }
              }
            }
            """);
        return f;
    }

    private static string Sha512Sum(string path)
    {
        ProcessResult sum = TestEnvironment.RunCapture("sha512sum", path);
        Assert.AreEqual(0, sum.ExitCode, sum.All);
        return sum.Output.Split(' ')[0];
    }

    [TestMethod]
    public void APackagesChecksumIsTheSha512OfItsSignedNupkgAsSha512sumPrintsItAndNuGetsContentHashAnAnnotation()
    {
        using Fixture f = WithRealPackage(out string nuget, out string nupkg, out string runtimePack);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        JObject sbom = Sbom(f);
        Assert.AreEqual("", SchemaValidator.ValidateSpdx(Path.Combine(f.Bundle, "sbom.spdx.json")));

        // What each of NuGet's hashes is, on the real signed package: .nupkg.sha512 is the file's; contentHash is not.
        string fileHash = Sha512Sum(nupkg);
        Assert.AreEqual(fileHash, Convert.ToHexString(Convert.FromBase64String(File.ReadAllText(nupkg + ".sha512"))).ToLowerInvariant(), ".nupkg.sha512 is the SHA-512 of the file");
        string contentHash = (string)JObject.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(nupkg)!, ".nupkg.metadata")))["contentHash"]!;
        Assert.AreNotEqual(fileHash, Convert.ToHexString(Convert.FromBase64String(contentHash)).ToLowerInvariant(), "a signed package's contentHash is another hash (of the package without its signature)");

        JObject newtonsoft = Package(sbom, "Newtonsoft.Json");
        Assert.AreEqual("SHA512", (string?)newtonsoft["checksums"]!.Single()["algorithm"]);
        Assert.AreEqual(fileHash, (string?)newtonsoft["checksums"]!.Single()["checksumValue"], "the checksum is sha512sum of the .nupkg");
        Assert.AreEqual(Path.GetFileName(nupkg), (string?)newtonsoft["packageFileName"], "and names the file it is of");
        JObject annotation = (JObject)newtonsoft["annotations"]!.Single();
        Assert.AreEqual("OTHER", (string?)annotation["annotationType"]);
        StringAssert.StartsWith((string?)annotation["annotator"], "Tool: OciBundle.Sdk-");
        Assert.AreEqual((string?)sbom["creationInfo"]!["created"], (string?)annotation["annotationDate"], "dated as the document: the same inputs give the same bytes");
        StringAssert.Contains((string?)annotation["comment"], $"NuGet contentHash: sha512-{contentHash} ");

        // The runtime pack: deps.json gives it no hash and no path; its .nupkg where NuGet puts it is found and hashed.
        JObject pack = Package(sbom, "Microsoft.NETCore.App.Runtime.linux-x64");
        Assert.AreEqual(Sha512Sum(runtimePack), (string?)pack["checksums"]!.Single()["checksumValue"]);
        Assert.AreEqual("microsoft.netcore.app.runtime.linux-x64.10.0.0.nupkg", (string?)pack["packageFileName"]);
        Assert.IsNull(pack["annotations"], "no contentHash in deps.json, none claimed");

        // A package whose .nupkg is not there (a folder cleaned, restored elsewhere) gets no checksum at all.
        File.Delete(runtimePack);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        Assert.IsNull(Package(Sbom(f), "Microsoft.NETCore.App.Runtime.linux-x64")["checksums"], "the deleted .nupkg was an input: the publish saw it go");
        Assert.IsNull(Package(Sbom(f), "Microsoft.NETCore.App.Runtime.linux-x64")["packageFileName"]);
    }

    [TestMethod]
    public void ANupkgIsHashedOnceAndKnownByItsIdentityUntilItIsWrittenAgain()
    {
        using Fixture f = WithRealPackage(out string nuget, out string nupkg, out string runtimePack);
        string cache = Path.Combine(f.Root, "cache");
        string Listed(string name) => (string)Package(Sbom(f), name)["checksums"]!.Single()["checksumValue"]!;
        string Log() => string.Join("\n", f.Engine.Messages.Select(m => m.Message));
        void CleanPublish()
        {
            Directory.Delete(f.Bundle, recursive: true);
            File.Delete(f.State);
            f.Publish(t => { t.NuGetPackageRoot = nuget; t.CacheDirectory = cache; });
        }

        f.Publish(t => { t.NuGetPackageRoot = nuget; t.CacheDirectory = cache; });
        StringAssert.Contains(Log(), $"SBOM: hashed {runtimePack} (3.0 MB, SHA-512) in ");
        StringAssert.Contains(Log(), $"SBOM: the SHA-512 of {nupkg} is NuGet's record of it ({nupkg}.sha512)", "Newtonsoft's folder has NuGet's record: not hashed");
        Assert.IsFalse(Log().Contains($"SBOM: hashed {nupkg} ", StringComparison.Ordinal), Log());
        string entry = Directory.GetFiles(Path.Combine(cache, "digests")).Single(e => File.ReadAllText(e).StartsWith("ocibundle-nupkg-sha512 1\n", StringComparison.Ordinal));

        // A clean build reads neither again; shown by an entry altered by hand (same identity, false digest), which is believed.
        string forged = new('a', 128);
        File.WriteAllText(entry, File.ReadAllText(entry).Replace(Sha512Sum(runtimePack), forged, StringComparison.Ordinal));
        CleanPublish();
        Assert.IsFalse(Log().Contains("SBOM: hashed", StringComparison.Ordinal), Log());
        Assert.AreEqual(forged, Listed("Microsoft.NETCore.App.Runtime.linux-x64"), "the cache spared the clean build hashing the runtime pack");
        Assert.AreEqual(Sha512Sum(nupkg), Listed("Newtonsoft.Json"));

        // Never for a file written since, even in place with its old mtime (the ctime tells).
        DateTime mtime = File.GetLastWriteTimeUtc(runtimePack);
        using (var stream = new FileStream(runtimePack, FileMode.Open, FileAccess.Write))
        {
            stream.Write("changed"u8);
        }

        File.SetLastWriteTimeUtc(runtimePack, mtime);
        CleanPublish();
        Assert.AreEqual(Sha512Sum(runtimePack), Listed("Microsoft.NETCore.App.Runtime.linux-x64"));
        StringAssert.Contains(Log(), $"SBOM: hashed {runtimePack} ");
    }

    [TestMethod]
    public void NuGetsRecordOfAPackagesSha512IsTakenAndOneThatIsNotASha512LeavesTheFileToBeHashed()
    {
        using Fixture f = WithRealPackage(out string nuget, out string nupkg, out string runtimePack);
        string record = nupkg + ".sha512";
        string Listed() => (string)Package(Sbom(f), "Newtonsoft.Json")["checksums"]!.Single()["checksumValue"]!;
        string Log() => string.Join("\n", f.Engine.Messages.Select(m => m.Message));

        // NuGet's record is the hash of the package it extracted: believed as it stands, even when the .nupkg beside
        // it was written since (its files in the folder are still those of the package NuGet recorded).
        f.Publish(t => t.NuGetPackageRoot = nuget);
        Assert.AreEqual(Sha512Sum(nupkg), Listed(), "NuGet's record is sha512sum of the file it wrote it for");
        byte[] other = SHA512.HashData("another package"u8);
        File.WriteAllText(record, Convert.ToBase64String(other));
        f.Publish(t => t.NuGetPackageRoot = nuget);
        Assert.AreEqual(Convert.ToHexString(other).ToLowerInvariant(), Listed(), "the record was an input: the publish saw it change");
        Assert.IsFalse(Log().Contains($"SBOM: hashed {nupkg} ", StringComparison.Ordinal), Log());

        // A record that is not one SHA-512, or not a regular file, is not taken: the .nupkg is hashed, and nothing blocks.
        string outside = Path.Combine(f.Root, "outside.sha512");
        File.WriteAllText(outside, Convert.ToBase64String(other));
        var records = new (string What, Action Make)[]
        {
            ("text that is not base64", () => File.WriteAllText(record, "not a hash")),
            ("a SHA-256", () => File.WriteAllText(record, Convert.ToBase64String(SHA256.HashData("x"u8)))),
            ("two SHA-512s", () => File.WriteAllText(record, Convert.ToBase64String(other.Concat(other).ToArray()))),
            ("a file over 1 KiB", () => File.WriteAllText(record, Convert.ToBase64String(other) + new string(' ', 2000))),
            ("a link to a record outside the folder", () => File.CreateSymbolicLink(record, outside)),
            ("a FIFO", () => Assert.AreEqual(0, TestEnvironment.RunCapture("mkfifo", record).ExitCode)),
        };
        foreach ((string what, Action make) in records)
        {
            File.Delete(record);
            make();
            var publish = System.Threading.Tasks.Task.Run(() => f.Publish(t => t.NuGetPackageRoot = nuget));
            Assert.IsTrue(publish.Wait(TimeSpan.FromSeconds(60)), $"{what}: the publish does not wait on it");
            publish.GetAwaiter().GetResult();
            Assert.AreEqual(Sha512Sum(nupkg), Listed(), what);
            StringAssert.Contains(Log(), $"SBOM: hashed {nupkg} ", what);
        }
    }

    [TestMethod]
    public void NuGetsRecordIsReadAndLoggedOnceAPublishThoughThePrefetchAndTheSbomStepBothAskForIt()
    {
        using Fixture f = WithRealPackage(out string nuget, out string nupkg, out string runtimePack);
        string line = $"SBOM: the SHA-512 of {nupkg} is NuGet's record of it ({nupkg}.sha512)";
        int Told() => f.Engine.Messages.Count(m => m.Message == line);

        f.Publish(t => t.NuGetPackageRoot = nuget);
        Assert.AreEqual(1, Told(), "a first publish: one line for the package, not one from each thread that asked");
        Assert.AreEqual(Sha512Sum(nupkg), (string)Package(Sbom(f), "Newtonsoft.Json")["checksums"]!.Single()["checksumValue"]!);
        File.AppendAllText(Path.Combine(f.PublishDir, "Hello"), "# changed\n");
        f.Publish(t => t.NuGetPackageRoot = nuget);
        Assert.AreEqual(1, Told(), "an app change: read again, once");
    }

    [TestMethod]
    public void HostileNuGetRecordsNeverGiveAChecksumOtherThanTheFilesOrTheRecordedOne()
    {
        using Fixture f = WithRealPackage(out string nuget, out string nupkg, out string runtimePack);
        string record = nupkg + ".sha512";
        byte[] sha512 = SHA512.HashData(File.ReadAllBytes(nupkg));
        string base64 = Convert.ToBase64String(sha512);
        string hex = Convert.ToHexString(sha512).ToLowerInvariant();
        string? Listed() => (string?)Package(Sbom(f), "Newtonsoft.Json")["checksums"]?.Single()["checksumValue"];
        string Log() => string.Join("\n", f.Engine.Messages.Select(m => m.Message));
        string link1 = Path.Combine(f.Root, "link1"), link2 = Path.Combine(f.Root, "link2"), real = Path.Combine(f.Root, "real.sha512");
        File.WriteAllText(real, base64);
        var records = new (string What, Action Make, bool Taken)[]
        {
            ("CRLF", () => File.WriteAllText(record, base64 + "\r\n"), true),
            ("spaces and tabs round it", () => File.WriteAllText(record, " \t" + base64 + " \n\n"), true),
            ("wrapped at 76 columns, as base64(1) writes it", () => File.WriteAllText(record, base64[..76] + "\n" + base64[76..] + "\n"), true),
            ("a UTF-8 byte order mark", () => File.WriteAllBytes(record, new byte[] { 0xEF, 0xBB, 0xBF }.Concat(System.Text.Encoding.ASCII.GetBytes(base64)).ToArray()), false),
            ("UTF-16", () => File.WriteAllText(record, base64, System.Text.Encoding.Unicode), false),
            ("no padding", () => File.WriteAllText(record, base64.TrimEnd('=')), false),
            ("URL-safe base64 of other bytes", () => File.WriteAllText(record, Convert.ToBase64String(Enumerable.Repeat((byte)0xFB, 64).ToArray()).Replace('+', '-').Replace('/', '_')), false),
            ("hex, as sha512sum prints it", () => File.WriteAllText(record, hex), false),
            ("a NUL after it", () => File.WriteAllText(record, base64 + "\0"), false),
            ("empty", () => File.WriteAllText(record, ""), false),
            ("a folder", () => Directory.CreateDirectory(record), false),
            ("a link chain to a good record", () => { File.CreateSymbolicLink(link2, real); File.CreateSymbolicLink(link1, link2); File.CreateSymbolicLink(record, link1); }, false),
            ("a hard link to a good record outside the folder", () => Assert.AreEqual(0, TestEnvironment.RunCapture("ln", real, record).ExitCode), true),
            ("a sparse file of 100 GiB", () => Assert.AreEqual(0, TestEnvironment.RunCapture("truncate", "-s", "100G", record).ExitCode), false),
            // Root reads it all the same; another user's publish cannot, and hashes the file.
            ("unreadable (mode 000)", () => { File.WriteAllText(record, base64); File.SetUnixFileMode(record, UnixFileMode.None); }, Environment.IsPrivilegedProcess),
        };
        foreach ((string what, Action make, bool taken) in records)
        {
            foreach (string p in new[] { record, link1, link2 })
            {
                if (Directory.Exists(p)) Directory.Delete(p); else File.Delete(p);
            }

            make();
            var publish = System.Threading.Tasks.Task.Run(() => f.Publish(t => t.NuGetPackageRoot = nuget));
            Assert.IsTrue(publish.Wait(TimeSpan.FromSeconds(60)), $"{what}: the publish does not wait on it");
            publish.GetAwaiter().GetResult();
            Assert.AreEqual(hex, Listed(), what);
            Assert.AreEqual("", SchemaValidator.ValidateSpdx(Path.Combine(f.Bundle, "sbom.spdx.json")), what);
            Assert.AreEqual(taken, Log().Contains($"SBOM: the SHA-512 of {nupkg} is NuGet's record", StringComparison.Ordinal) && !Log().Contains($"SBOM: hashed {nupkg} ", StringComparison.Ordinal), $"{what}: {Log()}");
        }

        // Swapped while publishes run (renamed over: a good record, a FIFO, a link, a wrong-size one): never blocks, never another hash.
        using (var stop = new CancellationTokenSource())
        {
            var swapper = System.Threading.Tasks.Task.Run(() =>
            {
                string fifo = Path.Combine(f.Root, "fifo"), good = Path.Combine(f.Root, "good"), big = Path.Combine(f.Root, "big"), link = Path.Combine(f.Root, "lnk");
                for (int i = 0; !stop.IsCancellationRequested; i++)
                {
                    File.Delete(fifo); File.Delete(link);
                    TestEnvironment.RunCapture("mkfifo", fifo);
                    File.WriteAllText(good, base64);
                    File.WriteAllText(big, base64 + new string(' ', 3000));
                    File.CreateSymbolicLink(link, real);
                    File.Move(new[] { good, fifo, big, link }[i % 4], record, overwrite: true);
                }
            });
            for (int i = 0; i < 25; i++)
            {
                var publish = System.Threading.Tasks.Task.Run(() => f.Publish(t => t.NuGetPackageRoot = nuget));
                Assert.IsTrue(publish.Wait(TimeSpan.FromSeconds(60)), $"swapped record {i}: the publish does not wait on it");
                publish.GetAwaiter().GetResult();
                Assert.AreEqual(hex, Listed(), $"swapped record {i}");
            }

            stop.Cancel();
            swapper.Wait();
        }

        // The record a publish saw missing, then there (holding another hash): the up-to-date check sees it come.
        File.Delete(record);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        Assert.AreEqual(hex, Listed());
        byte[] other = SHA512.HashData("another package"u8);
        File.WriteAllText(record, Convert.ToBase64String(other));
        f.Publish(t => t.NuGetPackageRoot = nuget);
        Assert.AreEqual(Convert.ToHexString(other).ToLowerInvariant(), Listed(), "the record's coming was seen");

        // The record there, the .nupkg gone: no checksum, as without a record. Then the .nupkg a link outside the folder.
        string outside = Path.Combine(f.Root, "outside.nupkg");
        File.Move(nupkg, outside);
        File.WriteAllText(record, base64);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        Assert.IsNull(Listed(), "no .nupkg: no checksum, whatever the record says");
        File.CreateSymbolicLink(nupkg, outside);
        File.WriteAllText(outside + ".sha512", base64);
        f.Publish(t => t.NuGetPackageRoot = nuget);
        Assert.IsNull(Listed(), "a .nupkg outside the folder: no checksum, its record beside it or beside the link");
    }

    [TestMethod]
    public void ANupkgThatIsNotARegularFileOfTheFolderGetsNoChecksumAndNeverBlocks()
    {
        using Fixture f = WithRealPackage(out string nuget, out string nupkg, out string runtimePack);

        // The runtime pack's .nupkg a FIFO (reading it would block), Newtonsoft's a link to a file outside the folder.
        File.Delete(runtimePack);
        Assert.AreEqual(0, TestEnvironment.RunCapture("mkfifo", runtimePack).ExitCode);
        string outside = Path.Combine(f.Root, "outside.nupkg");
        File.Move(nupkg, outside);
        File.CreateSymbolicLink(nupkg, outside);
        var publish = System.Threading.Tasks.Task.Run(() => f.Publish(t => t.NuGetPackageRoot = nuget));
        Assert.IsTrue(publish.Wait(TimeSpan.FromSeconds(60)), "the publish does not wait on a FIFO");
        Assert.IsNull(Package(Sbom(f), "Microsoft.NETCore.App.Runtime.linux-x64")["checksums"]);
        Assert.IsNull(Package(Sbom(f), "Newtonsoft.Json")["checksums"], "a file outside the package folder is not the package's");
        Assert.IsNotNull(Package(Sbom(f), "Newtonsoft.Json")["annotations"], "its contentHash is still kept");
    }
}
