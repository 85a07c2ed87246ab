using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 31: an app with real NuGet dependencies (EF Core with SQLite, Newtonsoft.Json), pushed to a loopback
/// docker-registry. A one-line change of Program.cs sends the app's own layer and the config; an upgrade of one
/// package sends that package's group and the app's layer; two clean builds give the same digest; podman runs what
/// the registry serves. The three-layer image (<c>OciImageLayering=SingleAppLayer</c>) is pushed first, to measure what
/// the same one-line change cost before.
/// </summary>
[TestClass]
public sealed class LayeringTests
{
    private const string EfCore = "10.0.15";

    private static string ImageDir(TestProject p) => Path.Combine(p.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-image");

    private static JObject Blob(TestProject p, string digest) => JObject.Parse(File.ReadAllText(Path.Combine(ImageDir(p), "blobs", "sha256", digest[7..])));

    private static string ManifestDigest(TestProject p) => (string)JObject.Parse(File.ReadAllText(Path.Combine(ImageDir(p), "index.json")))["manifests"]![0]!["digest"]!;

    /// <summary>Every blob of the layout's image by digest: each layer's name (the config's history) and size, and the config's.</summary>
    private static Dictionary<string, (string Name, long Size)> Blobs(TestProject p)
    {
        JObject manifest = Blob(p, ManifestDigest(p));
        JObject config = Blob(p, (string)manifest["config"]!["digest"]!);
        string[] names = config["history"]!.Select(h => ((string)h["created_by"]!).Replace("OciBundle.Sdk: ", "", StringComparison.Ordinal)).ToArray();
        var blobs = manifest["layers"]!.Select((l, i) => (Digest: (string)l["digest"]!, Name: names[i], Size: (long)l["size"]!)).ToDictionary(b => b.Digest, b => (b.Name, b.Size));
        blobs[(string)manifest["config"]!["digest"]!] = ("config", (long)manifest["config"]!["size"]!);
        return blobs;
    }

    /// <summary>The digests of the blobs the registry took an upload of since request <paramref name="since"/> (the PUT that ends an upload names it).</summary>
    private static List<string> UploadedSince(TestRegistry registry, int since) => registry.SettledRequests().Skip(since)
        .Where(r => r.Method == "PUT" && r.Path.Contains("/blobs/uploads/", StringComparison.Ordinal))
        .Select(r => Uri.UnescapeDataString(r.Path)).Select(path => path[(path.IndexOf("digest=sha256:", StringComparison.Ordinal) + "digest=".Length)..][..71])
        .ToList();

    /// <summary>The shop app (Apps/Shop.cs, which build/bench-layers.sh publishes too), printing <paramref name="version"/>.</summary>
    private static string Program(string version) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Apps", "Shop.cs")).Replace("SHOP_VERSION", version, StringComparison.Ordinal);

    private static string Packages(string newtonsoft) =>
        $"""<PackageReference Include="Microsoft.EntityFrameworkCore.Sqlite" Version="{EfCore}" /><PackageReference Include="Newtonsoft.Json" Version="{newtonsoft}" />""";

    /// <summary>Publishes and pushes; returns what the registry took: the layers' names, and the bytes.</summary>
    private static (string[] Names, long Bytes, string Output) PublishAndPush(TestProject project, TestRegistry registry, string repository, string layering)
    {
        int since = registry.SettledRequests().Count;
        ProcessResult publish = project.Publish("-p:PublishOciImage=true", $"-p:OciImageRegistry={registry.Host}", $"-p:OciImageInsecureRegistries={registry.Host}",
            $"-p:OciImageRepository={repository}", $"-p:OciImageLayering={layering}", "-p:OciImageTag=latest");
        Dictionary<string, (string Name, long Size)> blobs = Blobs(project);
        List<string> uploaded = UploadedSince(registry, since);
        Assert.IsTrue(uploaded.All(blobs.ContainsKey), "every upload is a blob of this image: " + string.Join(", ", uploaded));
        string[] names = uploaded.Select(d => blobs[d].Name).OrderBy(n => n, StringComparer.Ordinal).ToArray();
        long bytes = uploaded.Sum(d => blobs[d].Size);
        Console.WriteLine($"{layering} push to {repository}: {string.Join(", ", names)}: {bytes} bytes; layers: "
            + string.Join("; ", blobs.Values.Where(b => b.Name != "config").Select(b => $"{b.Name} {b.Size}")));
        return (names, bytes, publish.Output);
    }

    [TestMethod]
    public void ACodeChangeSendsTheAppsLayerAndAPackageUpgradeItsGroupAndTheImageRunsUnderPodman()
    {
        TestEnvironment.Require(TestRegistry.Program is not null, "docker-registry (Debian package docker-registry)");
        TestEnvironment.Require(TestEnvironment.Which("podman") is not null, "podman (Debian package podman)");
        using var registry = new TestRegistry();
        using TestProject project = TestProject.WithSdkElement("Shop", "", Packages("13.0.3"), program: Program("v1"));
        string csproj = Path.Combine(project.Directory, "Shop.csproj");

        // Before: the three-layer image sends every package again after a one-line change.
        PublishAndPush(project, registry, "team/single", "SingleAppLayer");
        project.WriteProgram(Program("v2"));
        (string[] singleNames, long singleBytes, _) = PublishAndPush(project, registry, "team/single", "SingleAppLayer");
        CollectionAssert.AreEqual(new[] { "app", "config" }, singleNames);

        // By change rate: the packages in their groups, the app's own files apart.
        PublishAndPush(project, registry, "team/shop", "ByChangeRate");
        Dictionary<string, (string Name, long Size)> layers = Blobs(project);
        string[] layerNames = layers.Values.Select(b => b.Name).Where(n => n != "config").ToArray();
        Assert.IsTrue(layerNames.Count(n => n.StartsWith("NuGet packages, group ", StringComparison.Ordinal)) >= 2, string.Join(", ", layerNames));
        Assert.AreEqual("app", layerNames[^1]);
        Assert.IsTrue(layerNames.Length <= 11, string.Join(", ", layerNames));

        // A one-line change: the app's layer and the config, a few kilobytes.
        project.WriteProgram(Program("v3"));
        (string[] names, long bytes, string changed) = PublishAndPush(project, registry, "team/shop", "ByChangeRate");
        CollectionAssert.AreEqual(new[] { "app", "config" }, names);
        StringAssert.Contains(changed, $"{layerNames.Length} layers, {layerNames.Length - 1} reused", "every layer but the app's is linked from the last layout by its fingerprint");
        Assert.IsTrue(bytes < 200_000 && bytes * 10 < singleBytes, $"{bytes} bytes sent, {singleBytes} with one app layer");
        Console.WriteLine($"one-line change: {singleBytes} bytes sent with SingleAppLayer, {bytes} with ByChangeRate");

        // One package upgraded: its group and the app's layer (deps.json and the SBOM name the version), never the runtime or the system.
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("Version=\"13.0.3\"", "Version=\"13.0.4\"", StringComparison.Ordinal));
        (string[] upgraded, long upgradedBytes, _) = PublishAndPush(project, registry, "team/shop", "ByChangeRate");
        string group = Blobs(project).Values.Single(b => b.Name.StartsWith("NuGet packages", StringComparison.Ordinal) && upgraded.Contains(b.Name)).Name;
        CollectionAssert.AreEqual(new[] { "app", "config", group }.OrderBy(n => n, StringComparer.Ordinal).ToArray(), upgraded);
        Console.WriteLine($"Newtonsoft.Json 13.0.3 -> 13.0.4: {upgradedBytes} bytes sent ({group})");

        // Two clean builds: the same digest, and the registry has it all.
        string digest = ManifestDigest(project);
        Directory.Delete(Path.Combine(project.Directory, "bin"), recursive: true);
        Directory.Delete(Path.Combine(project.Directory, "obj"), recursive: true);
        (string[] clean, _, string cleanOutput) = PublishAndPush(project, registry, "team/shop", "ByChangeRate");
        Assert.AreEqual(digest, ManifestDigest(project), "a clean build gives the same image");
        Assert.AreEqual(0, clean.Length, cleanOutput);

        // What the registry serves runs under podman.
        string name = $"{registry.Host}/team/shop:latest";
        try
        {
            ProcessResult pull = TestEnvironment.RunCapture("podman", "pull", "--tls-verify=false", name);
            Assert.AreEqual(0, pull.ExitCode, pull.All);
            ProcessResult run = TestEnvironment.RunCapture("podman", "run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", name);
            Assert.AreEqual(0, run.ExitCode, run.All);
            StringAssert.EndsWith(run.Output, "shop v3: [\"apple\"]\n", run.All);
        }
        finally
        {
            TestEnvironment.RunCapture("podman", "rmi", "--force", name);
        }
    }
}
