using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 3: what .NET loads behind the ELF walk's back (ICU, OpenSSL, time zones, CA certificates) is in the bundle,
/// so the app prints inside runc exactly what it prints on the host.
/// </summary>
[TestClass]
public sealed class DotnetClosureTests
{
    private const string AppArgDotnet = """<OciBundleAppArg Include="dotnet" />""";

    private static void AssertSameOutputInContainerAsOnHost(TestProject project, string hostProgram, params string[] hostArgs)
    {
        ProcessResult host = TestEnvironment.Run(hostProgram, hostArgs, project.PublishDir, new Dictionary<string, string?> { ["DOTNET_ROOT"] = "/usr/share/dotnet" }, TimeSpan.FromMinutes(1));
        Assert.AreEqual(0, host.ExitCode, host.All);
        StringAssert.Contains(host.Output, "sha256: BA7816BF");

        ProcessResult container = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, container.ExitCode, container.All);

        // The host's root store also counts certificates that are only in its certificate directory (Debian's
        // ssl-cert-snakeoil.pem, say); the bundle trusts the CA bundle alone (issue 12), so count those on the host.
        var caBundle = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        caBundle.ImportFromPemFile("/etc/ssl/certs/ca-certificates.crt");
        string expected = System.Text.RegularExpressions.Regex.Replace(host.Output, @"(?m)^roots: \d+$", $"roots: {caBundle.Select(c => c.Thumbprint).Distinct().Count()}");
        Assert.AreEqual(expected, container.Output, "the app prints in the container what it prints on the host");
    }

    private static JObject Provenance(TestProject project) => JObject.Parse(File.ReadAllText(Path.Combine(project.BundleDir, "provenance.json")));

    [TestMethod]
    public void SelfContainedGlobalizedAppBehavesAsOnTheHost()
    {
        Runc.RequireRoot();
        TestProject project = SharedProjects.GlobalizedProbe; // SecurityTests reads its certificates

        AssertSameOutputInContainerAsOnHost(project, Path.Combine(project.PublishDir, "Globalized"), "dotnet");

        // Scanners see the distribution and each Debian package whose files are inside, at the version dpkg has.
        string rootfs = Path.Combine(project.BundleDir, "rootfs");
        StringAssert.Contains(File.ReadAllText(Path.Combine(rootfs, "etc", "os-release")), "ID=debian");
        foreach (string package in new[] { "libc6", "libicu72", "libssl3", "tzdata" })
        {
            string stanza = File.ReadAllText(Path.Combine(rootfs, "var", "lib", "dpkg", "status.d", package));
            string version = TestEnvironment.RunCapture("dpkg-query", "-W", "-f", "${Version}", package).Output.Trim();
            StringAssert.Contains(stanza, $"\nVersion: {version}\n", package);
            Assert.AreEqual(version, (string?)SbomTests.Package(SbomTests.Read(project.BundleDir), package)["versionInfo"], package);
        }

        SbomTests.AssertScannersSeeWhatIsInside(project.BundleDir);

        // The report says why ICU is there.
        JToken icu = Provenance(project)["files"]!.First(f => ((string)f["path"]!).Contains("libicuuc.so.") && (string)f["type"]! == "file");
        StringAssert.Contains((string)icu["reason"]!, "ICU for System.Globalization (dlopen libicuuc.so.");
        Assert.IsTrue(Provenance(project)["omitted"]!.Any(o => ((string)o!).Contains("libcoreclrtraceptprovider.so")), "the LTTng provider is left out with a message");
    }

    [TestMethod]
    public void TrimmedAppBehavesAsOnTheHost()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("Trimmed", "<PublishTrimmed>true</PublishTrimmed><TrimmerSingleWarn>false</TrimmerSingleWarn><NoWarn>IL2026;IL3050</NoWarn>", AppArgDotnet);
        project.Publish("-p:PublishOciBundle=true");
        AssertSameOutputInContainerAsOnHost(project, Path.Combine(project.PublishDir, "Trimmed"), "dotnet");
    }

    [TestMethod]
    public void NativeAotAppBehavesAsOnTheHost()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("NativeAot", "<PublishAot>true</PublishAot>", AppArgDotnet);
        project.Publish("-p:PublishOciBundle=true");

        // The symbol file AOT writes beside the executable is data, not a program with a closure.
        Assert.IsTrue(File.Exists(Path.Combine(project.PublishDir, "NativeAot.dbg")), "AOT wrote its symbol file");
        Assert.IsTrue(File.Exists(Path.Combine(project.BundleDir, "rootfs", "app", "NativeAot.dbg")));
        AssertSameOutputInContainerAsOnHost(project, Path.Combine(project.PublishDir, "NativeAot"), "dotnet");
        // AOT copies its executable and symbol file into the publish folder after Publish: the first bundle already has
        // them, so a rerun gives the same tree (AOT rewrites its files each time, so it is not a no-op).
        string first = TreeFingerprint.Of(project.BundleDir);
        project.Publish("-p:PublishOciBundle=true");
        Assert.AreEqual(first, TreeFingerprint.Of(project.BundleDir), "the rerun's bundle is the first one's");

        // No runtime, no shim libraries: the executable itself is why ICU and OpenSSL are there.
        string rootfs = Path.Combine(project.BundleDir, "rootfs");
        Assert.IsFalse(Directory.EnumerateFiles(rootfs, "libcoreclr.so", SearchOption.AllDirectories).Any());
        JToken icu = Provenance(project)["files"]!.First(f => ((string)f["path"]!).Contains("libicuuc.so.") && (string)f["type"]! == "file");
        StringAssert.Contains((string)icu["reason"]!, "by /app/NativeAot");
        JToken ssl = Provenance(project)["files"]!.First(f => ((string)f["path"]!).Contains("libssl.so.") && (string)f["type"]! == "file");
        StringAssert.Contains((string)ssl["reason"]!, "by /app/NativeAot");

        // No deps.json: the SBOM still names the runtime compiled in, at the version of the pack in the package folder.
        JObject aotPack = SbomTests.Package(SbomTests.Read(project.BundleDir), "Microsoft.NETCore.App.Runtime.NativeAOT.linux-x64");
        string packs = Path.Combine(SdkFeed.Packages, "microsoft.netcore.app.runtime.nativeaot.linux-x64");
        CollectionAssert.Contains(Directory.GetDirectories(packs).Select(Path.GetFileName).ToArray(), (string?)aotPack["versionInfo"]);
        Assert.AreEqual("MIT", (string?)aotPack["licenseDeclared"], "from the pack's nuspec");
        string aotNupkg = Path.Combine(packs, (string)aotPack["versionInfo"]!, $"microsoft.netcore.app.runtime.nativeaot.linux-x64.{aotPack["versionInfo"]}.nupkg");
        Assert.AreEqual(TestEnvironment.RunCapture("sha512sum", aotNupkg).Output.Split(' ')[0], (string?)aotPack["checksums"]?[0]?["checksumValue"], "the SHA-512 of the pack's .nupkg");
        JObject aotSbom = SbomTests.Read(project.BundleDir);
        Assert.AreEqual("1.0.0", (string?)aotSbom["packages"]!.Single(p => (string?)p["SPDXID"] == "SPDXRef-App")["versionInfo"], "the build's deps.json names the app");
        Assert.IsFalse(aotSbom["packages"]!.Any(p => (string?)p["name"] == "Microsoft.NETCore.App.Runtime.linux-x64"), "not the JIT runtime, which the executable does not carry");
        SbomTests.AssertScannersSeeWhatIsInside(project.BundleDir);
    }

    [TestMethod]
    public void InvariantNativeAotAppCarriesNoIcu()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("InvariantAot", "<PublishAot>true</PublishAot><InvariantGlobalization>true</InvariantGlobalization>");
        project.Publish("-p:PublishOciBundle=true");

        string rootfs = Path.Combine(project.BundleDir, "rootfs");
        Assert.IsFalse(Directory.EnumerateFiles(rootfs, "libicu*", SearchOption.AllDirectories).Any(), "the executable has no ICU loader in it");
        Assert.IsTrue(Directory.EnumerateFiles(rootfs, "libssl.so.*", SearchOption.AllDirectories).Any(), "it still opens OpenSSL");
        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(3, run.ExitCode, run.All);
        StringAssert.StartsWith(run.Output, "Hello from an OCI bundle!\n");
    }

    [TestMethod]
    public void FrameworkDependentAppGetsItsFrameworksAndBehavesAsOnTheHost()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("FrameworkDependent", "<SelfContained>false</SelfContained>", AppArgDotnet);
        project.Publish("-p:PublishOciBundle=true");

        AssertSameOutputInContainerAsOnHost(project, Path.Combine(project.PublishDir, "FrameworkDependent"), "dotnet");
        string rootfs = Path.Combine(project.BundleDir, "rootfs");
        string[] frameworks = Directory.GetDirectories(Path.Combine(rootfs, "usr", "share", "dotnet", "shared"));
        CollectionAssert.AreEqual(new[] { "Microsoft.NETCore.App" }, frameworks.Select(Path.GetFileName).ToArray(), "only the framework the app names");
        Assert.AreEqual(1, Directory.GetDirectories(frameworks[0]).Length, "only the version the host would pick");
        StringAssert.Contains(File.ReadAllText(Path.Combine(project.BundleDir, "config.json")), "\"DOTNET_ROOT=/usr/share/dotnet\"");
        BundleInvariant.AssertNoHostUserCanReplaceIt(project.BundleDir);
    }

    [TestMethod]
    public void FrameworkDependentAspNetCoreAppServesARequestInsideTheContainer()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.FromXml("AspNetProbe", """
            <Project Sdk="Microsoft.NET.Sdk.Web">
              <Sdk Name="OciBundle.Sdk" Version="$(OciBundleSdkVersion)" />
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <SelfContained>false</SelfContained>
              </PropertyGroup>
              <ItemGroup>
                <OciBundleEnvironmentVariable Include="Logging__LogLevel__Default" Value="Warning" />
              </ItemGroup>
            </Project>
            """, """
            var app = WebApplication.CreateSlimBuilder(args).Build();
            app.MapGet("/", () => $"served by {Environment.MachineName}");
            await app.StartAsync();
            using var http = new HttpClient();
            Console.WriteLine(await http.GetStringAsync("http://localhost:8080/"));
            await app.StopAsync();
            """);
        ProcessResult publish = project.Publish("-p:PublishOciBundle=true");
        StringAssert.Contains(publish.Output, "; it listens on port 8080 of its own network namespace", "a web app listens on 8080 by default, as in Microsoft's images, and the summary says where");

        // A network namespace of its own (loopback only): the server and its client are both inside.
        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        Assert.AreEqual("served by aspnetprobe\n", run.Output);
        string shared = Path.Combine(project.BundleDir, "rootfs", "usr", "share", "dotnet", "shared");
        CollectionAssert.AreEquivalent(new[] { "Microsoft.AspNetCore.App", "Microsoft.NETCore.App" }, Directory.GetDirectories(shared).Select(Path.GetFileName).ToArray());

        // The SBOM names both frameworks at the versions inside, by the runtime packs advisories name, and credits their files.
        JObject sbom = SbomTests.Read(project.BundleDir);
        foreach (string framework in new[] { "Microsoft.NETCore.App", "Microsoft.AspNetCore.App" })
        {
            string version = Path.GetFileName(Directory.GetDirectories(Path.Combine(shared, framework)).Single());
            JObject package = SbomTests.Package(sbom, framework);
            Assert.AreEqual(version, (string?)package["versionInfo"], framework);
            Assert.AreEqual($"pkg:nuget/{framework}.Runtime.linux-x64@{version}", (string?)package["externalRefs"]![0]!["referenceLocator"]);
            string dll = sbom["files"]!.Single(f => (string?)f["fileName"] == $"/usr/share/dotnet/shared/{framework}/{version}/{(framework == "Microsoft.NETCore.App" ? "System.Private.CoreLib" : "Microsoft.AspNetCore")}.dll")["SPDXID"]!.ToString();
            Assert.AreEqual((string?)package["SPDXID"], sbom["relationships"]!.Single(r => (string?)r["relatedSpdxElement"] == dll)["spdxElementId"]!.ToString());
        }

        SbomTests.AssertScannersSeeWhatIsInside(project.BundleDir);
    }

    [TestMethod]
    public void AWorkerServiceStopsCleanlyOnSigterm()
    {
        Runc.RequireRoot();
        // What dotnet new worker makes: the Worker SDK, Microsoft.Extensions.Hosting, a BackgroundService.
        using TestProject project = TestProject.FromXml("Worker", """
            <Project Sdk="Microsoft.NET.Sdk.Worker">
              <Sdk Name="OciBundle.Sdk" Version="$(OciBundleSdkVersion)" />
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Microsoft.Extensions.Hosting" Version="10.0.0" />
                <OciBundleEnvironmentVariable Include="Logging__LogLevel__Default" Value="Warning" />
              </ItemGroup>
            </Project>
            """, """
            var builder = Host.CreateApplicationBuilder(args);
            builder.Services.AddHostedService<Work>();
            builder.Build().Run();
            Console.WriteLine("stopped cleanly");

            sealed class Work : BackgroundService
            {
                protected override async Task ExecuteAsync(CancellationToken stop)
                {
                    Console.WriteLine("working");
                    try { await Task.Delay(Timeout.Infinite, stop); }
                    catch (OperationCanceledException) { Console.WriteLine("asked to stop"); }
                }
            }
            """);
        project.Publish("-p:PublishOciBundle=true");

        // As Kubernetes stops a pod: SIGTERM to pid 1, which .NET's host turns into a graceful shutdown.
        ProcessResult run = Runc.RunAsRootAndSignal(project.BundleDir, "working", "TERM");
        Assert.AreEqual(0, run.ExitCode, run.All);
        Assert.AreEqual("working\nasked to stop\nstopped cleanly\n", run.Output, run.All);
    }

    [TestMethod]
    public void DotnetNewWebapiAnswersOnPort8080InItsNamespaceWithNoSettings()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("nsenter") is not null && TestEnvironment.Which("curl") is not null, "nsenter (util-linux) and curl, to reach the container's network");
        // The template as a new user gets it, plus only the line that adds the SDK.
        using TestProject project = TestProject.FromXml("Api", "<Project />", "");
        ProcessResult created = TestProject.DotnetNew(project.Directory, project.Environment, "webapi", "--force", "-n", "Api", "-o", ".");
        Assert.AreEqual(0, created.ExitCode, created.All);
        string csproj = Path.Combine(project.Directory, "Api.csproj");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("<Project Sdk=\"Microsoft.NET.Sdk.Web\">", $"<Project Sdk=\"Microsoft.NET.Sdk.Web\">\n  <Sdk Name=\"OciBundle.Sdk\" Version=\"{SdkFeed.Version}\" />", StringComparison.Ordinal));
        ProcessResult publish = project.Publish("-p:PublishOciBundle=true");
        StringAssert.Contains(publish.Output, "; it listens on port 8080 of its own network namespace", publish.Output);

        string answer = "";
        ProcessResult run = Runc.RunAsRootAndSignal(project.BundleDir, "Now listening on", "TERM", pid =>
            answer = TestEnvironment.RunCapture("nsenter", "-t", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-n", "curl", "-s", "--max-time", "10", "http://127.0.0.1:8080/weatherforecast").Output);
        StringAssert.Contains(run.Output, "Now listening on: http://[::]:8080", run.All);
        StringAssert.StartsWith(answer, "[{\"date\":", "the template's endpoint answered inside the container's network:\n" + run.All);
        Assert.AreEqual(0, run.ExitCode, "and it stopped cleanly on SIGTERM:\n" + run.All);
    }

    [TestMethod]
    public void InvariantGlobalizationAppCarriesNoIcu()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("Invariant", "<InvariantGlobalization>true</InvariantGlobalization>");
        project.Publish("-p:PublishOciBundle=true");

        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual("Hello from an OCI bundle!\nargs: \n", run.Output, run.All);
        string[] icu = Directory.GetFiles(Path.Combine(project.BundleDir, "rootfs"), "libicu*", SearchOption.AllDirectories);
        Assert.AreEqual(0, icu.Length, "no ICU: " + string.Join(", ", icu));
    }

    [TestMethod]
    public void AnAbsoluteHostPathAmongTheArgsIsBroughtInWithItsClosure()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("ShellArgs", items: """
            <OciBundleArg Include="/bin/sh" />
            <OciBundleArg Include="-c" />
            <OciBundleArg Include="read h &lt; /proc/sys/kernel/hostname%3B echo from sh in %24h%3B test -x /app/ShellArgs &amp;&amp; echo the app is there" />
            """);
        project.Publish("-p:PublishOciBundle=true");

        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        Assert.AreEqual("from sh in shellargs\nthe app is there\n", run.Output);
        StringAssert.Contains(File.ReadAllText(Path.Combine(project.BundleDir, "config.json")), "\"/bin/sh\",\n      \"-c\",\n      \"read h < /proc/sys/kernel/hostname; echo from sh in $h;");
    }

    [TestMethod]
    public void ALibraryTheSysrootLacksIsACodedErrorNamingIt()
    {
        TestEnvironment.Require(TestEnvironment.Which("gcc") is not null, "gcc builds a library with a missing dependency");
        using var native = new TempDirectory();
        File.WriteAllText(native.Combine("missing.c"), "int missing(void){return 1;}");
        File.WriteAllText(native.Combine("needy.c"), "int missing(void); int needy(void){return missing();}");
        Assert.AreEqual(0, TestEnvironment.RunCapture("gcc", "-shared", "-fPIC", "-o", native.Combine("libmissing.so.1"), "-Wl,-soname,libmissing.so.1", native.Combine("missing.c")).ExitCode);
        Assert.AreEqual(0, TestEnvironment.RunCapture("gcc", "-shared", "-fPIC", "-o", native.Combine("libneedy.so"), native.Combine("needy.c"), native.Combine("libmissing.so.1")).ExitCode);
        File.Delete(native.Combine("libmissing.so.1"));

        using TestProject project = TestProject.WithSdkElement("Needy", items: $"""<OciBundleFile Include="{native.Combine("libneedy.so")}" TargetPath="/opt/native/libneedy.so" />""");
        ProcessResult publish = project.Publish(false, "-p:PublishOciBundle=true");

        Assert.AreNotEqual(0, publish.ExitCode);
        StringAssert.Contains(publish.Output, "error OCIB2001: a library the app needs cannot be found in the sysroot '/': libmissing.so.1 (needed by /opt/native/libneedy.so)");
        Assert.IsFalse(Directory.Exists(project.BundleDir), "nothing written");
    }
}
