using System.Security.Cryptography;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 13 on real apps and this machine's dpkg database: what a scanner reads (the SBOM, dpkg status.d, deps.json)
/// names every package inside at its exact version. No scanner is installable here, so the checks are the ones a
/// scanner makes, done with dpkg itself: <c>dpkg-query</c> over the bundle's status.d, <c>dpkg -L</c> for ownership.
/// </summary>
[TestClass]
public sealed class SbomTests
{
    internal static JObject Read(string bundleDir) => JObject.Parse(File.ReadAllText(Path.Combine(bundleDir, "sbom.spdx.json")));

    internal static JObject Package(JObject sbom, string name) =>
        sbom["packages"]!.OfType<JObject>().SingleOrDefault(p => (string?)p["name"] == name && !((string)p["SPDXID"]!).StartsWith("SPDXRef-Bundle", StringComparison.Ordinal) && (string?)p["SPDXID"] != "SPDXRef-App")
        ?? throw new AssertFailedException($"no package {name} in the SBOM: {string.Join(", ", sbom["packages"]!.Select(p => (string?)p["name"]))}");

    private static string Purl(JObject package) => (string)package["externalRefs"]![0]!["referenceLocator"]!;

    /// <summary>
    /// What a scanner would conclude from the bundle, checked against this machine's dpkg (the sysroot is <c>/</c>):
    /// every regular file is listed with its SHA-256; every Debian package at the version dpkg has and owning, per
    /// <c>dpkg -L</c>, each file credited to it; no file left unowned that a package lists; and dpkg itself, reading
    /// the bundle's status.d as its database, finds exactly the SBOM's Debian packages.
    /// </summary>
    internal static void AssertScannersSeeWhatIsInside(string bundleDir)
    {
        JObject sbom = Read(bundleDir);
        string rootfs = Path.Combine(bundleDir, "rootfs");
        var files = sbom["files"]!.ToDictionary(f => (string)f["SPDXID"]!, f => (JObject)f);
        var byPath = files.Values.ToDictionary(f => (string)f["fileName"]!);
        string[] onDisk = TestEnvironment.RegularFiles(rootfs).Select(p => p[rootfs.Length..]).Where(p => p != "/usr/share/sbom/sbom.spdx.json").Order(StringComparer.Ordinal).ToArray();
        CollectionAssert.AreEqual(onDisk, byPath.Keys.Order(StringComparer.Ordinal).ToArray(), "every regular file of rootfs, and no other");
        foreach (string path in onDisk)
        {
            string sha = (string)byPath[path]["checksums"]!.Single(c => (string?)c["algorithm"] == "SHA256")["checksumValue"]!;
            Assert.AreEqual(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(rootfs + path))).ToLowerInvariant(), sha, path);
        }

        var container = sbom["relationships"]!.Where(r => (string?)r["relationshipType"] == "CONTAINS" && files.ContainsKey((string)r["relatedSpdxElement"]!))
            .ToDictionary(r => (string)files[(string)r["relatedSpdxElement"]!]["fileName"]!, r => (string)r["spdxElementId"]!);
        var debs = sbom["packages"]!.OfType<JObject>().Where(p => p["externalRefs"] is JArray refs && ((string)refs[0]!["referenceLocator"]!).StartsWith("pkg:deb/", StringComparison.Ordinal)).ToList();
        Assert.IsTrue(debs.Count >= 3, "libc6, libgcc-s1, libstdc++6 at least");
        foreach (JObject deb in debs)
        {
            string name = (string)deb["name"]!;
            string arch = Purl(deb).Split("arch=")[1].Split('&')[0];
            string query = arch == "all" ? name : $"{name}:{arch}";
            Assert.AreEqual(TestEnvironment.RunCapture("dpkg-query", "-W", "-f", "${Version}", query).Output.Trim(), (string)deb["versionInfo"]!, name);
            StringAssert.StartsWith(Purl(deb), $"pkg:deb/debian/{Uri.EscapeDataString(name)}@", name);
            StringAssert.Contains(Purl(deb), "distro=debian-", name);

            // dpkg lists pre-merge paths (/lib/...); rootfs has them where they really are (/usr/lib/...).
            var listed = TestEnvironment.RunCapture("dpkg", "-L", query).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => System.Text.RegularExpressions.Regex.Replace(p, "^/(bin|sbin|lib|lib64)/", "/usr/$1/")).ToHashSet(StringComparer.Ordinal);
            string[] credited = container.Where(c => c.Value == (string)deb["SPDXID"]!).Select(c => c.Key).ToArray();
            Assert.IsTrue(credited.Length > 0, $"{name} is listed only because it owns a file inside");
            foreach (string path in credited)
            {
                Assert.IsTrue(listed.Contains(path), $"{path} is credited to {name}, but dpkg -L {query} does not list it");
            }
        }

        // A file from the system left without a package is one dpkg does not list either.
        foreach (string path in container.Where(c => c.Value == "SPDXRef-Bundle" && files.Values.Single(f => (string)f["fileName"]! == c.Key)["comment"]?.ToString().StartsWith("from the sysroot", StringComparison.Ordinal) == true).Select(c => c.Key))
        {
            bool owned = TestEnvironment.RunCapture("dpkg", "-S", path).ExitCode == 0
                || TestEnvironment.RunCapture("dpkg", "-S", path.Replace("/usr/lib/", "/lib/", StringComparison.Ordinal)).ExitCode == 0;
            Assert.IsFalse(owned, $"{path} is listed without a package, but dpkg -S finds its owner");
        }

        // dpkg itself, given the bundle's status.d as its database (what Trivy, Grype and Syft read in distroless images).
        using var admin = new TempDirectory();
        File.WriteAllText(Path.Combine(admin.Path, "status"), string.Join("\n", Directory.GetFiles(Path.Combine(rootfs, "var", "lib", "dpkg", "status.d")).Order(StringComparer.Ordinal).Select(File.ReadAllText)));
        Directory.CreateDirectory(Path.Combine(admin.Path, "info"));
        Directory.CreateDirectory(Path.Combine(admin.Path, "updates"));
        ProcessResult seen = TestEnvironment.RunCapture("dpkg-query", "--admindir=" + admin.Path, "-W", "-f", "${Package} ${Version}\n");
        Assert.AreEqual(0, seen.ExitCode, seen.All);
        CollectionAssert.AreEquivalent(
            debs.Select(d => $"{d["name"]} {d["versionInfo"]}").Distinct().ToArray(),
            seen.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries),
            "dpkg reads the bundle's status.d as the same packages at the same versions as the SBOM");
        StringAssert.Contains(File.ReadAllText(Path.Combine(rootfs, "etc", "os-release")), "ID=debian");
        Assert.AreEqual(File.ReadAllText("/etc/debian_version"), File.ReadAllText(Path.Combine(rootfs, "etc", "debian_version")));
    }

    [TestMethod]
    public void ASingleFileAppRunsAndItsSbomNamesTheRuntimeEmbeddedInIt()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("SingleFile", "<PublishSingleFile>true</PublishSingleFile><SelfContained>true</SelfContained>",
            program: "System.Console.WriteLine(\"single \" + System.Globalization.CultureInfo.GetCultureInfo(\"de-DE\").DateTimeFormat.GetMonthName(3));");
        project.Publish("-p:PublishOciBundle=true");
        Assert.IsFalse(File.Exists(Path.Combine(project.PublishDir, "SingleFile.deps.json")), "deps.json is inside the single file");

        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual("single März\n", run.Output, run.All);

        // The deps.json MSBuild embedded is kept in obj/: the SBOM names the runtime pack it lists.
        string deps = File.ReadAllText(Directory.GetFiles(Path.Combine(project.Directory, "obj"), "SingleFile.deps.json", SearchOption.AllDirectories)
            .Single(p => p.Contains("linux-x64", StringComparison.Ordinal)));
        string version = System.Text.RegularExpressions.Regex.Match(deps, "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/([^\"]+)\"").Groups[1].Value;
        Assert.AreEqual(version, (string?)Package(Read(project.BundleDir), "Microsoft.NETCore.App.Runtime.linux-x64")["versionInfo"]);
        AssertScannersSeeWhatIsInside(project.BundleDir);
    }

    [TestMethod]
    public void AnAppWithNuGetPackagesListsThemAtDepsJsonsVersionsInTheBundleAndTheImage()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.FromXml("Sqlite", """
            <Project Sdk="Microsoft.NET.Sdk">
              <Sdk Name="OciBundle.Sdk" Version="$(OciBundleSdkVersion)" />
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <RuntimeIdentifier>linux-x64</RuntimeIdentifier>
                <InvariantGlobalization>true</InvariantGlobalization>
                <Version>3.1.4</Version>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Microsoft.Data.Sqlite" Version="10.0.0" />
              </ItemGroup>
            </Project>
            """, """
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=:memory:");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "select 'sqlite ' || sqlite_version()";
            System.Console.WriteLine(command.ExecuteScalar());
            """);
        project.Publish("-p:PublishOciBundle=true", "-p:PublishOciImage=true");

        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        StringAssert.StartsWith(run.Output, "sqlite 3.", "the native SQLite of the package runs inside");
        AssertScannersSeeWhatIsInside(project.BundleDir);

        // Every package of deps.json at its version, with NuGet's purl, and the native library credited to its package.
        JObject deps = JObject.Parse(File.ReadAllText(Path.Combine(project.PublishDir, "Sqlite.deps.json")));
        JObject sbom = Read(project.BundleDir);
        var packages = deps["libraries"]!.OfType<JProperty>().Where(l => (string?)l.Value["type"] == "package").Select(l => l.Name.Split('/')).ToList();
        Assert.IsTrue(packages.Count >= 5, string.Join(", ", packages.Select(p => p[0])));
        foreach (string[] p in packages)
        {
            JObject package = Package(sbom, p[0]);
            Assert.AreEqual(p[1], (string)package["versionInfo"]!, p[0]);
            Assert.AreEqual($"pkg:nuget/{p[0]}@{p[1]}", Purl(package));
        }

        Assert.AreEqual("MIT", (string)Package(sbom, "Microsoft.Data.Sqlite")["licenseDeclared"]!, "from the package's nuspec");
        string runtimePack = deps["libraries"]!.OfType<JProperty>().Single(l => l.Name.StartsWith("runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/", StringComparison.Ordinal)).Name.Split('/')[1];
        Assert.AreEqual($"pkg:nuget/Microsoft.NETCore.App.Runtime.linux-x64@{runtimePack}", Purl(Package(sbom, "Microsoft.NETCore.App.Runtime.linux-x64")), "the runtime of a self-contained app");

        // Each package's checksum, the runtime pack's included, is what sha512sum prints for its signed .nupkg in the package folder.
        foreach (string[] p in packages.Append(new[] { "Microsoft.NETCore.App.Runtime.linux-x64", runtimePack }))
        {
            string nupkg = Path.Combine(SdkFeed.Packages, p[0].ToLowerInvariant(), p[1].ToLowerInvariant(), $"{p[0].ToLowerInvariant()}.{p[1].ToLowerInvariant()}.nupkg");
            ProcessResult sum = TestEnvironment.RunCapture("sha512sum", nupkg);
            Assert.AreEqual(0, sum.ExitCode, sum.All);
            JObject package = Package(sbom, p[0]);
            Assert.AreEqual(sum.Output.Split(' ')[0], (string?)package["checksums"]?.Single(c => (string?)c["algorithm"] == "SHA512")["checksumValue"], $"{p[0]}: sha512sum {nupkg}");
            Assert.AreEqual(Path.GetFileName(nupkg), (string?)package["packageFileName"], p[0]);
        }

        Assert.AreEqual("", SchemaValidator.ValidateSpdx(Path.Combine(project.BundleDir, "sbom.spdx.json")));
        string sqliteNative = sbom["files"]!.Single(f => (string?)f["fileName"] == "/app/libe_sqlite3.so")["SPDXID"]!.ToString();
        string owner = sbom["relationships"]!.Single(r => (string?)r["relatedSpdxElement"] == sqliteNative)["spdxElementId"]!.ToString();
        Assert.AreEqual("SQLitePCLRaw.lib.e_sqlite3", (string?)sbom["packages"]!.Single(p => (string?)p["SPDXID"] == owner)["name"]);
        Assert.AreEqual("3.1.4", (string?)sbom["packages"]!.Single(p => (string?)p["SPDXID"] == "SPDXRef-App")["versionInfo"]);

        // The image carries the same SBOM in its app layer, and its manifest names it with the digest of those bytes.
        string image = Path.Combine(project.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-image");
        JObject index = JObject.Parse(File.ReadAllText(Path.Combine(image, "index.json")));
        JObject manifest = JObject.Parse(File.ReadAllText(Path.Combine(image, "blobs", "sha256", ((string)index["manifests"]![0]!["digest"]!)[7..])));
        byte[] bytes = File.ReadAllBytes(Path.Combine(project.BundleDir, "sbom.spdx.json"));
        Assert.AreEqual("/usr/share/sbom/sbom.spdx.json", (string?)manifest["annotations"]!["io.ocibundle.sbom.path"]);
        Assert.AreEqual("sha256:" + Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), (string?)manifest["annotations"]!["io.ocibundle.sbom.digest"]);
        string appLayer = Path.Combine(image, "blobs", "sha256", ((string)manifest["layers"]!.Last()!["digest"]!)[7..]);
        using var layer = new TempDirectory();
        ProcessResult untar = TestEnvironment.RunCapture("tar", "-xzf", appLayer, "-C", layer.Path, "usr/share/sbom/sbom.spdx.json");
        Assert.AreEqual(0, untar.ExitCode, "the SBOM is in the last (app) layer: " + untar.All);
        CollectionAssert.AreEqual(bytes, File.ReadAllBytes(Path.Combine(layer.Path, "usr", "share", "sbom", "sbom.spdx.json")));
    }
}
