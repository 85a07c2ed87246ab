using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 27: the package holds the task's assemblies precompiled (ReadyToRun) for linux-x64 and linux-arm64 beside
/// the IL ones, and a publish on such a machine loads them and runs their code instead of JIT-compiling it.
/// </summary>
[TestClass]
public sealed class PrecompiledTaskTests
{
    private static readonly string[] Assemblies = { "OciBundle.Tasks.dll", "OciBundle.dll", "Newtonsoft.Json.dll", "ZstdSharp.dll" };

    /// <summary>A ReadyToRun image for Linux marks its machine as the architecture's XOR this (crossgen2's TargetOS.Linux).</summary>
    private const ushort LinuxMachineMask = 0x7B79;

    [TestMethod]
    public void ThePackageHoldsTheSameAssembliesPrecompiledForEachArchitecture()
    {
        using ZipArchive package = ZipFile.OpenRead(Directory.GetFiles(SdkFeed.Feed, "*.nupkg").Single());
        foreach (string name in Assemblies)
        {
            (Guid mvid, ushort _, bool precompiled) il = Read(package, "tasks/net8.0/" + name);
            Assert.IsFalse(il.precompiled, $"tasks/net8.0/{name} is IL, for every other machine");
            foreach ((string rid, Machine machine) in new[] { ("linux-x64", Machine.Amd64), ("linux-arm64", Machine.Arm64) })
            {
                (Guid mvid, ushort machine, bool precompiled) native = Read(package, $"tasks/net8.0/{rid}/{name}");
                Assert.IsTrue(native.precompiled, $"tasks/net8.0/{rid}/{name} has ReadyToRun code");
                Assert.AreEqual((ushort)((ushort)machine ^ LinuxMachineMask), native.machine, $"tasks/net8.0/{rid}/{name} is for Linux on {machine}");
                Assert.AreEqual(il.mvid, native.mvid, $"tasks/net8.0/{rid}/{name} holds the IL and metadata of tasks/net8.0/{name}");
            }
        }
    }

    [TestMethod]
    public void APublishRunsThePrecompiledTaskInsteadOfCompilingIt()
    {
        if (RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            Assert.Inconclusive("ReadyToRun code ships for x64 and arm64 only");
        }

        string rid = "linux-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        string tasks = Path.Combine(SdkFeed.Packages, "ocibundle.sdk", SdkFeed.Version.ToLowerInvariant(), "tasks", "net8.0");
        using TestProject project = TestProject.WithSdkElement("Precompiled");
        // Restore and compile first, so that the measured publishes run no compiler process beside MSBuild's own.
        project.Publish("-p:PublishOciBundle=true");
        using var jit = new TempDirectory();

        // The package's default on this machine, then the IL build of the same code, each writing the whole bundle.
        (string log, int methods) precompiled = PublishCountingJit(project, jit.Combine("precompiled.txt"));
        (string _, int ilMethods) = PublishCountingJit(project, jit.Combine("il.txt"), $"-p:OciBundleTasksAssembly={Path.Combine(tasks, "OciBundle.Tasks.dll")}");

        System.Text.RegularExpressions.Match used = System.Text.RegularExpressions.Regex.Match(precompiled.log, "Using \"BuildOciContainer\" task from assembly \"([^\"]+)\"");
        Assert.IsTrue(used.Success, "MSBuild names the task's assembly at -v:d");
        Assert.AreEqual(Path.Combine(tasks, rid, "OciBundle.Tasks.dll"), Path.GetFullPath(used.Groups[1].Value), "the targets load the precompiled assemblies on this machine");
        Assert.IsTrue(ilMethods > 500, $"the IL build JIT-compiles the task and engine: {ilMethods} of their methods");
        Assert.IsTrue(precompiled.methods * 20 < ilMethods, $"the precompiled task and engine leave {precompiled.methods} of their methods to the JIT, the IL ones {ilMethods}");
    }

    /// <summary>Publishes the whole bundle again (state and bundle removed) without building, with the JIT listing what it compiles.</summary>
    private static (string Log, int Methods) PublishCountingJit(TestProject project, string jitFile, params string[] args)
    {
        Directory.Delete(project.BundleDir, recursive: true);
        foreach (string state in Directory.GetDirectories(Path.Combine(project.Directory, "obj"), "ocibundle", SearchOption.AllDirectories))
        {
            Directory.Delete(state, recursive: true);
        }

        project.Environment["DOTNET_JitStdOutFile"] = jitFile;
        project.Environment["DOTNET_JitDisasmSummary"] = "1";
        try
        {
            ProcessResult publish = project.Publish(new[] { "-p:PublishOciBundle=true", "--no-build", "-v:d" }.Concat(args).ToArray());
            Assert.IsTrue(File.Exists(Path.Combine(project.BundleDir, "config.json")), publish.All);
            // Lines look like "  12: JIT compiled OciBundle.Planning.BundlePlanner:Plan(...) [Tier0, ...]": the task's and the engine's namespaces.
            return (publish.Output, File.ReadLines(jitFile).Count(l => l.Contains("JIT compiled OciBundle.", StringComparison.Ordinal)));
        }
        finally
        {
            project.Environment.Remove("DOTNET_JitStdOutFile");
            project.Environment.Remove("DOTNET_JitDisasmSummary");
        }
    }

    private static (Guid Mvid, ushort Machine, bool Precompiled) Read(ZipArchive package, string entryName)
    {
        ZipArchiveEntry entry = package.GetEntry(entryName) ?? throw new AssertFailedException($"the package has no {entryName}");
        var bytes = new MemoryStream();
        using (Stream stream = entry.Open())
        {
            stream.CopyTo(bytes);
        }

        bytes.Position = 0;
        using var pe = new PEReader(bytes);
        MetadataReader metadata = pe.GetMetadataReader();
        return (metadata.GetGuid(metadata.GetModuleDefinition().Mvid), (ushort)pe.PEHeaders.CoffHeader.Machine,
            pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0);
    }
}
