using System.Security;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Request;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// Issue 25, item 3: a project written for the .NET SDK's PublishContainer publishes here unchanged. The mapping is
/// the SDK's own targets, evaluated by MSBuild (dotnet msbuild -getProperty/-getItem on a project that imports
/// OciBundle.Sdk.targets), so what is checked is what a publish reads; the warnings come from the task, run by them.
/// </summary>
[TestClass]
public sealed class ContainerSettingsTests
{
    private static readonly string Targets = Path.Combine(TestEnvironment.RepoRoot, "sdk", "build", "OciBundle.Sdk.targets");

    private static readonly string[] MappedProperties =
    {
        "OciImageRegistry", "OciImageRepository", "OciImageTag", "OciImageTags", "OciBundleSysroot", "OciBundleUser",
        "OciBundleWorkingDirectory", "OciImageRuntimeIdentifiers", "RuntimeIdentifiers",
    };

    private static readonly string[] MappedItems =
    {
        "OciImagePort", "OciBundleEnvironmentVariable", "OciImageLabel", "OciBundleArg", "OciBundleAppArg", "OciImageDefaultArgs",
    };

    /// <summary>What MSBuild evaluates for a project with these properties and items, after the publish's item mapping ran.</summary>
    private sealed record Evaluated(Dictionary<string, string> Properties, Dictionary<string, List<(string Identity, string Value)>> Items)
    {
        public string[] Identities(string item) => Items[item].Select(i => i.Identity).ToArray();
    }

    private static string ProjectXml(IDictionary<string, string> properties, string items) => $"""
        <Project>
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
            <AssemblyName>My.App</AssemblyName>
            <OutputPath>bin/</OutputPath>
            {string.Concat(properties.Select(p => $"<{p.Key}>{SecurityElement.Escape(p.Value)}</{p.Key}>"))}
          </PropertyGroup>
          <ItemGroup>{items}</ItemGroup>
          <Import Project="{Targets}" />
        </Project>
        """;

    private static ProcessResult Msbuild(string projectXml, params string[] args)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.Combine("p.proj"), projectXml);
        var env = new Dictionary<string, string?> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1", ["MSBUILDTERMINALLOGGER"] = "off", ["MSBUILDDISABLENODEREUSE"] = "1" };
        return TestEnvironment.Run("dotnet", new[] { "msbuild", "p.proj", "-nologo" }.Concat(args), dir.Path, env, TimeSpan.FromMinutes(2));
    }

    private static Evaluated Evaluate(IDictionary<string, string> properties, string items = "")
    {
        var args = new List<string> { "-t:_OciBundleMapContainerItems" };
        args.AddRange(MappedProperties.Select(p => "-getProperty:" + p));
        args.AddRange(MappedItems.Select(i => "-getItem:" + i));
        ProcessResult result = Msbuild(ProjectXml(properties, items), args.ToArray());
        Assert.AreEqual(0, result.ExitCode, result.All);
        JObject json = JObject.Parse(result.Output);
        return new Evaluated(
            MappedProperties.ToDictionary(p => p, p => (string)json["Properties"]![p]!),
            MappedItems.ToDictionary(i => i, i => ((JArray)json["Items"]![i]!).Select(t => ((string)t["Identity"]!, (string?)t["Value"] ?? "")).ToList()));
    }

    private const string ContainerItems = """
        <ContainerPort Include="8080" Type="tcp" />
        <ContainerPort Include="53" Type="udp" />
        <ContainerPort Include="9090" />
        <ContainerEnvironmentVariable Include="GREETING" Value="hello from Container" />
        <ContainerEnvironmentVariable Include="MODE" Value="compat" />
        <ContainerLabel Include="com.example.team" Value="core" />
        <ContainerLabel Include="org.opencontainers.image.vendor" Value="Example" />
        <ContainerAppCommand Include="/app/My.App" />
        <ContainerAppCommandArgs Include="--serve" />
        <ContainerDefaultArgs Include="--port" />
        <ContainerDefaultArgs Include="5000" />
        """;

    private static Dictionary<string, string> ContainerProperties() => new()
    {
        ["ContainerRegistry"] = "registry.example.com:5000",
        ["ContainerRepository"] = "team/my-app",
        ["ContainerImageTags"] = "1.0;latest",
        ["ContainerBaseImage"] = "mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled@sha256:" + new string('a', 64),
        ["ContainerUser"] = "app",
        ["ContainerWorkingDirectory"] = "/srv/app",
        ["ContainerRuntimeIdentifiers"] = "linux-x64;linux-arm64",
        ["ContainerTitle"] = "Compat Title",
        ["ContainerVendor"] = "Vendor From Property",
    };

    private static readonly (string, string)[] PropertyLabels =
    {
        ("org.opencontainers.image.title", "Compat Title"), ("org.opencontainers.image.vendor", "Vendor From Property"),
    };

    [TestMethod]
    public void EachContainerSettingIsReadAsItsOciCounterpart()
    {
        Evaluated e = Evaluate(ContainerProperties(), ContainerItems);

        Assert.AreEqual("registry.example.com:5000", e.Properties["OciImageRegistry"]);
        Assert.AreEqual("team/my-app", e.Properties["OciImageRepository"]);
        Assert.AreEqual("1.0;latest", e.Properties["OciImageTags"], "every tag pushed");
        Assert.AreEqual("1.0", e.Properties["OciImageTag"], "the layout's tag: the first the project names, not latest by default");
        Assert.AreEqual("docker://mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled@sha256:" + new string('a', 64), e.Properties["OciBundleSysroot"]);
        Assert.AreEqual("app", e.Properties["OciBundleUser"]);
        Assert.AreEqual("/srv/app", e.Properties["OciBundleWorkingDirectory"]);
        Assert.AreEqual("linux-x64;linux-arm64", e.Properties["OciImageRuntimeIdentifiers"]);
        Assert.AreEqual("linux-x64;linux-arm64", e.Properties["RuntimeIdentifiers"], "restore learns every RID, as with OciImageRuntimeIdentifiers");

        CollectionAssert.AreEquivalent(new[] { "8080/tcp", "53/udp", "9090" }, e.Identities("OciImagePort"));
        CollectionAssert.AreEqual(new[] { ("GREETING", "hello from Container"), ("MODE", "compat") }, e.Items["OciBundleEnvironmentVariable"]);
        // The label properties first, so a ContainerLabel of the same key, after them, wins (the task keeps the last of a key).
        CollectionAssert.AreEqual(PropertyLabels.Concat(new[] { ("com.example.team", "core"), ("org.opencontainers.image.vendor", "Example") }).ToArray(), e.Items["OciImageLabel"]);
        CollectionAssert.AreEqual(new[] { "/app/My.App", "--serve" }, e.Identities("OciBundleArg"), "the command, then the arguments always given to it");
        Assert.AreEqual(0, e.Items["OciBundleAppArg"].Count);
        CollectionAssert.AreEqual(new[] { "--port", "5000" }, e.Identities("OciImageDefaultArgs"), "Cmd, in order");
    }

    [TestMethod]
    public void AnOciSettingWinsOverItsContainerCounterpart()
    {
        Dictionary<string, string> properties = ContainerProperties();
        properties["OciImageRegistry"] = "oci.example.com";
        properties["OciImageRepository"] = "oci/app";
        properties["OciImageTag"] = "oci";
        properties["OciImageTags"] = "oci;stable";
        properties["OciBundleSysroot"] = "/srv/sysroots/bookworm";
        properties["OciBundleUser"] = "1000";
        properties["OciBundleWorkingDirectory"] = "/opt/app";
        properties["OciImageRuntimeIdentifiers"] = "linux-arm64";
        string items = ContainerItems + """
            <OciImagePort Include="8080" />
            <OciBundleEnvironmentVariable Include="GREETING" Value="hello from Oci" />
            <OciImageLabel Include="com.example.team" Value="oci-team" />
            <OciBundleArg Include="/bin/sh" />
            <OciImageDefaultArgs Include="--oci" />
            """;

        Evaluated e = Evaluate(properties, items);

        foreach (string p in new[] { "OciImageRegistry", "OciImageRepository", "OciImageTag", "OciImageTags", "OciBundleSysroot", "OciBundleUser", "OciBundleWorkingDirectory", "OciImageRuntimeIdentifiers" })
        {
            Assert.AreEqual(properties[p], e.Properties[p], p);
        }

        // Named values: the Oci* item of a name wins, the Container* items of other names are added.
        CollectionAssert.AreEqual(new[] { ("GREETING", "hello from Oci"), ("MODE", "compat") }, e.Items["OciBundleEnvironmentVariable"]);
        CollectionAssert.AreEqual(new[] { ("com.example.team", "oci-team") }.Concat(PropertyLabels).Append(("org.opencontainers.image.vendor", "Example")).ToArray(), e.Items["OciImageLabel"]);
        CollectionAssert.AreEquivalent(new[] { "8080", "8080/tcp", "53/udp", "9090" }, e.Identities("OciImagePort"), "a set: 8080 and 8080/tcp are one port in the image (ExposedPortsAreASet)");
        // The command and Cmd as a whole.
        CollectionAssert.AreEqual(new[] { "/bin/sh" }, e.Identities("OciBundleArg"));
        Assert.AreEqual(0, e.Items["OciBundleAppArg"].Count);
        CollectionAssert.AreEqual(new[] { "--oci" }, e.Identities("OciImageDefaultArgs"));
    }

    [TestMethod]
    public void OciBundleAppArgItemsAreTheWholeCommandToo()
    {
        Evaluated e = Evaluate(new Dictionary<string, string>(), ContainerItems + """<OciBundleAppArg Include="--mine" />""");
        Assert.AreEqual(0, e.Items["OciBundleArg"].Count, "ContainerAppCommand is not read beside the project's own arguments");
        CollectionAssert.AreEqual(new[] { "--mine" }, e.Identities("OciBundleAppArg"));
    }

    [TestMethod]
    public void ContainerAppCommandArgsWithoutACommandFollowTheAppsOwn()
    {
        Evaluated e = Evaluate(new Dictionary<string, string>(), """<ContainerAppCommandArgs Include="--serve" /><ContainerAppCommandArgs Include="/data/in.json" />""");
        Assert.AreEqual(0, e.Items["OciBundleArg"].Count, "the app stays the command");
        CollectionAssert.AreEqual(new[] { "--serve", "/data/in.json" }, e.Identities("OciBundleAppArg"), "plain strings after the app, as OciBundleAppArg: a path there is never a file to copy");
    }

    [TestMethod]
    public void WithoutContainerSettingsEveryDefaultIsTheTargetsOwn()
    {
        Evaluated e = Evaluate(new Dictionary<string, string>());
        Assert.AreEqual("", e.Properties["OciImageRegistry"]);
        Assert.AreEqual("my-app", e.Properties["OciImageRepository"]);
        Assert.AreEqual(TargetDefaults.Of("OciImageTag"), e.Properties["OciImageTag"]);
        Assert.AreEqual(TargetDefaults.Of("OciImageTag"), e.Properties["OciImageTags"]);
        Assert.AreEqual(TargetDefaults.Of("OciBundleSysroot"), e.Properties["OciBundleSysroot"]);
        Assert.AreEqual(TargetDefaults.Of("OciBundleUser"), e.Properties["OciBundleUser"]);
        Assert.AreEqual(TargetDefaults.Of("OciBundleWorkingDirectory"), e.Properties["OciBundleWorkingDirectory"]);
        Assert.AreEqual("", e.Properties["OciImageRuntimeIdentifiers"]);
        Assert.IsTrue(MappedItems.All(i => e.Items[i].Count == 0), string.Join(", ", MappedItems.Where(i => e.Items[i].Count > 0)));
    }

    [TestMethod]
    public void ContainerRepositoryIsNormalizedAsTheDotnetSdkDoesAndContainerImageNameStillCounts()
    {
        static string Repository(params (string Key, string Value)[] properties) =>
            Evaluate(properties.ToDictionary(p => p.Key, p => p.Value)).Properties["OciImageRepository"];

        Assert.AreEqual("team/my.app", Repository(("ContainerRepository", "team/my.app")), "a valid name as it is");
        Assert.AreEqual("team/my-app", Repository(("ContainerRepository", "Team/My.App")), "capitals lowercased, other characters '-'");
        Assert.AreEqual("legacy/name", Repository(("ContainerImageName", "legacy/name")), "the .NET SDK's older property");
        Assert.AreEqual("new/name", Repository(("ContainerImageName", "legacy/name"), ("ContainerRepository", "new/name")));
    }

    [TestMethod]
    public void ContainerImageTagAloneIsTheLayoutsTagAndThePushedOne()
    {
        Evaluated e = Evaluate(new Dictionary<string, string> { ["ContainerImageTag"] = "2.1" });
        Assert.AreEqual("2.1", e.Properties["OciImageTag"]);
        Assert.AreEqual("2.1", e.Properties["OciImageTags"]);
    }

    [TestMethod]
    public void ExposedPortsAreASet()
    {
        // A ContainerPort 8080 (tcp) beside an OciImagePort 8080 is one port: ExposedPorts is a JSON object, keyed by port.
        using var dir = new TempDirectory();
        string publish = dir.Combine("proj", "bin", "publish");
        Directory.CreateDirectory(publish);
        Directory.CreateDirectory(dir.Combine("proj", "obj"));
        BundleOptions o = TargetDefaults.Options(publish, dir.Combine("proj", "bin", "oci-bundle"), "Hello");
        o.ProjectDirectory = dir.Combine("proj");
        o.RuntimeIdentifier = "linux-x64";
        o.ProtectedDirectories = new List<string> { dir.Combine("proj", "obj"), dir.Combine("proj", "bin") };
        o.ImageDirectory = dir.Combine("proj", "bin", "oci-image");
        o.ImagePorts = new List<string> { "8080", "53/udp", "8080/tcp", "53/udp" };

        CollectionAssert.AreEqual(new[] { "8080/tcp", "53/udp" }, BundleRequest.Parse(o).Output.Image!.Ports.ToArray());
    }

    private static ProcessResult CheckSettings(Dictionary<string, string> properties, string items = "")
    {
        properties["PublishOciImage"] = "true";
        properties["OciBundleTasksAssembly"] = typeof(OciBundle.Tasks.CheckContainerSettings).Assembly.Location;
        return Msbuild(ProjectXml(properties, items), "-t:_OciBundleCheckContainerSettings");
    }

    private static string[] Codes(ProcessResult result) =>
        System.Text.RegularExpressions.Regex.Matches(result.Output, @"(warning|error) (OCIB16[0-9]{2}):").Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value}").Distinct().ToArray();

    [TestMethod]
    public void EachContainerSettingWithoutACounterpartIsACodedWarningNamingIt()
    {
        ProcessResult result = CheckSettings(new Dictionary<string, string>
        {
            ["ContainerAppCommandInstruction"] = "DefaultArgs",
            ["ContainerFamily"] = "noble-chiseled",
            ["ContainerArchiveOutputPath"] = "out/app.tar.gz",
            ["ContainerRuntimeIdentifier"] = "linux-arm64",
            ["RuntimeIdentifier"] = "linux-x64",
            ["ContainerGenerateLabels"] = "false",
            ["ContainerImageFormat"] = "Docker",
        }, """<ContainerEntrypoint Include="/app/My.App" /><ContainerEntrypointArgs Include="--old" />""");

        Assert.AreEqual(0, result.ExitCode, "warnings only: " + result.All);
        CollectionAssert.AreEquivalent(new[] { "warning OCIB1640", "warning OCIB1641", "warning OCIB1642", "warning OCIB1643", "warning OCIB1644", "warning OCIB1646", "warning OCIB1647" }, Codes(result), result.Output);
        StringAssert.Contains(result.Output, "warning OCIB1640: ContainerAppCommandInstruction is 'DefaultArgs', which OciBundle.Sdk does not read");
        StringAssert.Contains(result.Output, "warning OCIB1641: ContainerEntrypoint ('/app/My.App')");
        StringAssert.Contains(result.Output, "warning OCIB1641: ContainerEntrypointArgs ('--old')");
        StringAssert.Contains(result.Output, "warning OCIB1642: ContainerFamily is 'noble-chiseled'");
        StringAssert.Contains(result.Output, "warning OCIB1643: ContainerArchiveOutputPath is 'out/app.tar.gz'");
        StringAssert.Contains(result.Output, "Set OciImageArchive");
        StringAssert.Contains(result.Output, "warning OCIB1644: ContainerRuntimeIdentifier is 'linux-arm64' and the publish's RuntimeIdentifier is 'linux-x64'");
        StringAssert.Contains(result.Output, "warning OCIB1646: ContainerGenerateLabels is 'false'");
        StringAssert.Contains(result.Output, "warning OCIB1647: ContainerImageFormat is 'Docker'");
    }

    [TestMethod]
    public void SettingsThatMeanWhatThisSdkDoesGiveNoWarning()
    {
        ProcessResult result = CheckSettings(new Dictionary<string, string>
        {
            ["ContainerAppCommandInstruction"] = "Entrypoint",
            ["ContainerRuntimeIdentifier"] = "linux-x64",
            ["RuntimeIdentifier"] = "linux-x64",
            ["ContainerImageTags"] = "1.0;latest",
            ["ContainerGenerateLabels"] = "true",
            ["ContainerImageFormat"] = "OCI",
        });
        Assert.AreEqual(0, result.ExitCode, result.All);
        Assert.AreEqual(0, Codes(result).Length, result.Output);
    }

    [TestMethod]
    public void ContainerImageTagWithContainerImageTagsIsAnErrorUnlessBothOciTagSettingsAreGiven()
    {
        ProcessResult both = CheckSettings(new Dictionary<string, string> { ["ContainerImageTag"] = "1.0", ["ContainerImageTags"] = "1.0;latest" });
        Assert.AreNotEqual(0, both.ExitCode, both.All);
        CollectionAssert.AreEqual(new[] { "error OCIB1645" }, Codes(both), both.Output);
        StringAssert.Contains(both.Output, "error OCIB1645: ContainerImageTag ('1.0') and ContainerImageTags ('1.0;latest') are both set");

        ProcessResult overridden = CheckSettings(new Dictionary<string, string> { ["ContainerImageTag"] = "1.0", ["ContainerImageTags"] = "1.0;latest", ["OciImageTag"] = "x", ["OciImageTags"] = "x;y" });
        Assert.AreEqual(0, overridden.ExitCode, "neither Container tag setting is read: " + overridden.All);
        Assert.AreEqual(0, Codes(overridden).Length, overridden.Output);
    }

    [TestMethod]
    public void TheCheckReadsPlainValues()
    {
        (IReadOnlyList<OciBundleException> warnings, IReadOnlyList<OciBundleException> errors) = PublishContainerSettings.Check(new PublishContainerSettings.ContainerSettingValues
        {
            AppCommandInstruction = " entrypoint ",
            RuntimeIdentifier = "linux-arm64",
            ImageTag = "1.0",
            ImageTags = ";",
        });
        CollectionAssert.AreEqual(new[] { "OCIB1644" }, warnings.Select(w => w.Code).ToArray(), "Entrypoint in any case is the default; a RID without one for the publish is not the image's");
        StringAssert.Contains(warnings[0].Message, "RuntimeIdentifier is 'none'");
        Assert.AreEqual(0, errors.Count, "an empty list of tags is no second tag setting");
        Assert.AreEqual(Strings.ContainerImageTagAndTags.Code, PublishContainerSettings.Check(new PublishContainerSettings.ContainerSettingValues { ImageTag = "a", ImageTags = "b" }).Errors.Single().Code);
    }
}
