using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 25, item 3: a project written for the .NET SDK's PublishContainer, its settings untouched, published with
/// -p:PublishOciImage=true: the image lands in the registry, repository and tags its Container* settings name, with
/// their ports, environment, labels, user, folder and command, and the image pulled back from there runs.
/// </summary>
[TestClass]
public sealed class PublishContainerSettingsTests
{
    private const string Program = """
        string uid = File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Uid:")).Split('\t')[1];
        Console.WriteLine($"{Environment.GetEnvironmentVariable("GREETING")} | uid {uid} | cwd {Environment.CurrentDirectory} | args {string.Join(" ", args)}");
        """;

    [TestMethod]
    public void AProjectWithContainerSettingsPushesWhereTheyNameWithTheirConfigAndRuns()
    {
        Runc.RequireRoot();
        TestEnvironment.Require(TestEnvironment.Which("skopeo") is not null && TestEnvironment.Which("podman") is not null, "skopeo and podman (Debian packages)");
        using var registry = new TestRegistry();
        using TestProject project = TestProject.WithSdkElement("Compat.App", $"""
            <ContainerRegistry>{registry.Host}</ContainerRegistry>
            <ContainerRepository>Team/Compat.App</ContainerRepository>
            <ContainerImageTags>1.0;stable</ContainerImageTags>
            <ContainerUser>1000</ContainerUser>
            <ContainerWorkingDirectory>/srv/compat</ContainerWorkingDirectory>
            <ContainerTitle>Compat Title</ContainerTitle>
            """, """
            <ContainerPort Include="8080" Type="tcp" />
            <ContainerPort Include="5353" Type="udp" />
            <ContainerEnvironmentVariable Include="GREETING" Value="hello from ContainerEnvironmentVariable" />
            <ContainerLabel Include="com.example.origin" Value="PublishContainer" />
            <ContainerAppCommandArgs Include="--from-app-command-args" />
            <ContainerDefaultArgs Include="from-default-args" />
            """, Program);
        // What the .NET SDK's own container publish reads for a registry over plain HTTP: the project stays as it is.
        project.Environment["DOTNET_CONTAINER_INSECURE_REGISTRIES"] = registry.Host;

        ProcessResult publish = project.Publish("-p:PublishOciImage=true");
        string repository = $"{registry.Host}/team/compat-app";
        StringAssert.Contains(publish.Output, $"Compat.App -> {repository}:1.0,stable (manifest sha256:", publish.Output);
        Assert.IsFalse(publish.Output.Contains("warning OCIB", StringComparison.Ordinal), "every setting has its counterpart: " + publish.Output);

        ProcessResult tags = TestEnvironment.RunCapture("skopeo", "list-tags", "--tls-verify=false", $"docker://{repository}");
        Assert.AreEqual(0, tags.ExitCode, tags.All);
        CollectionAssert.AreEquivalent(new[] { "1.0", "stable" }, ((JArray)JObject.Parse(tags.Output)["Tags"]!).Select(t => (string)t!).ToArray(), "the tags ContainerImageTags names, and no latest");
        string digest = (string)JObject.Parse(TestEnvironment.RunCapture("skopeo", "inspect", "--tls-verify=false", $"docker://{repository}:1.0").Output)["Digest"]!;
        Assert.AreEqual(digest, (string)JObject.Parse(TestEnvironment.RunCapture("skopeo", "inspect", "--tls-verify=false", $"docker://{repository}:stable").Output)["Digest"]!);

        ProcessResult inspect = TestEnvironment.RunCapture("skopeo", "inspect", "--config", "--tls-verify=false", $"docker://{repository}:stable");
        Assert.AreEqual(0, inspect.ExitCode, inspect.All);
        JObject config = (JObject)JObject.Parse(inspect.Output)["config"]!;
        CollectionAssert.AreEquivalent(new[] { "8080/tcp", "5353/udp" }, ((JObject)config["ExposedPorts"]!).Properties().Select(p => p.Name).ToArray(), config.ToString());
        CollectionAssert.Contains(config["Env"]!.Select(e => (string)e!).ToArray(), "GREETING=hello from ContainerEnvironmentVariable", config.ToString());
        Assert.AreEqual("PublishContainer", (string)config["Labels"]!["com.example.origin"]!, config.ToString());
        Assert.AreEqual("Compat Title", (string)config["Labels"]!["org.opencontainers.image.title"]!, "ContainerTitle, over the assembly name: " + config);
        Assert.AreEqual("1000:1000", (string)config["User"]!);
        Assert.AreEqual("/srv/compat", (string)config["WorkingDir"]!);
        Assert.AreEqual("--from-app-command-args", (string)config["Entrypoint"]!.Last()!, "ContainerAppCommandArgs follow the app's command: " + config);
        CollectionAssert.AreEqual(new[] { "from-default-args" }, config["Cmd"]!.Select(c => (string)c!).ToArray());

        // The image, pulled back from the registry, runs with all of it.
        string image = $"{repository}:1.0";
        try
        {
            ProcessResult run = TestEnvironment.RunCapture("podman", "run", "--rm", "--tls-verify=false", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", image);
            Assert.AreEqual(0, run.ExitCode, run.All);
            StringAssert.EndsWith(run.Output, "hello from ContainerEnvironmentVariable | uid 1000 | cwd /srv/compat | args --from-app-command-args from-default-args\n", run.All);
        }
        finally
        {
            TestEnvironment.RunCapture("podman", "rmi", "--force", image);
        }
    }
}
