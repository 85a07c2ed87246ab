using System.Security.Cryptography;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
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

        // The NuGet package from deps.json: version, purl, NuGet's SHA-512, the nuspec's license expression, its file.
        JObject acme = Package(sbom, "Acme.Json");
        Assert.AreEqual("1.2.3", (string?)acme["versionInfo"]);
        Assert.AreEqual("pkg:nuget/Acme.Json@1.2.3", (string?)acme["externalRefs"]![0]!["referenceLocator"]);
        Assert.AreEqual("MIT OR Apache-2.0", (string?)acme["licenseDeclared"]);
        Assert.AreEqual(Convert.ToHexString(SHA512.HashData("the nupkg"u8)).ToLowerInvariant(), (string?)acme["checksums"]![0]!["checksumValue"]);
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
    public void OciBundleSbomFalseWritesNoSbom()
    {
        using Fixture f = Debian(out string nuget);
        f.Publish(t => { t.NuGetPackageRoot = nuget; t.Sbom = false; });
        Assert.IsFalse(File.Exists(Path.Combine(f.Bundle, "sbom.spdx.json")));
        Assert.IsFalse(Directory.Exists(Path.Combine(f.Bundle, "rootfs", "usr", "share", "sbom")));
    }
}
