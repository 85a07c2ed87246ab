using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>Issue 18 as a user meets it: the output folder, file owners and host files, through dotnet publish.</summary>
[TestClass]
public sealed class SafetyTests
{
    private static string Hello(string text) => $"Console.WriteLine(\"{text}\");";

    [TestMethod]
    public void OutputFoldersThatHoldSomethingElseAreRefusedAndLeftByteForByte()
    {
        using TestProject project = TestProject.WithSdkElement("Refuses", program: Hello("refuses"));
        string deploy = Path.Combine(project.Directory, "..", "deploy");
        Directory.CreateDirectory(deploy);
        File.WriteAllText(Path.Combine(deploy, "deploy.sh"), "#!/bin/sh\necho deploying\n");
        File.WriteAllText(Path.Combine(deploy, "prod.env"), "API_TOKEN=keep-me\n");
        string file = Path.Combine(project.Directory, "..", "notes.txt");
        File.WriteAllText(file, "a file, not a folder\n");
        project.Publish("-p:PublishOciBundle=true"); // obj/ exists from here on

        var cases = new (string Property, string Target, string Code)[]
        {
            ("OciBundleDir", deploy, "OCIB1083"),
            ("OciBundleDir", file, "OCIB1084"),
            ("OciBundleDir", Path.Combine(project.Directory, "obj"), "OCIB1080"),
            ("OciBundleDir", "/etc", "OCIB1080"),
            ("OciImageDir", deploy, "OCIB1083"),
            ("OciImageDir", "/usr", "OCIB1080"),
        };
        string assets = File.ReadAllText(Path.Combine(project.Directory, "obj", "project.assets.json"));
        string passwd = File.ReadAllText("/etc/passwd");
        foreach ((string property, string target, string code) in cases)
        {
            // obj/ is written by the build itself on every publish; what counts there is checked after the loop.
            // /etc and /usr are too big to fingerprint: their sentinels are checked after the loop.
            string Snapshot() => File.Exists(target) ? File.ReadAllText(target) : target.EndsWith("/obj", StringComparison.Ordinal) || target.Length <= 4 ? "" : TreeFingerprint.Of(target);
            string before = Snapshot();
            string publish = property == "OciImageDir" ? "-p:PublishOciImage=true" : "-p:PublishOciBundle=true";
            ProcessResult refused = project.Publish(false, "--no-restore", publish, $"-p:{property}={target}"); // restored by the publish above

            Assert.AreNotEqual(0, refused.ExitCode, $"{property}={target}");
            StringAssert.Contains(refused.Output, $"error {code}: {property} '", $"{property}={target}:\n{refused.Output}");
            Assert.AreEqual(before, Snapshot(), $"{property}={target} was left as it was");
        }

        Assert.AreEqual("API_TOKEN=keep-me\n", File.ReadAllText(Path.Combine(deploy, "prod.env")));
        Assert.AreEqual(passwd, File.ReadAllText("/etc/passwd"));
        Assert.IsTrue(File.Exists("/usr/bin/env") && !Directory.EnumerateFileSystemEntries("/", ".etc.*").Any() && !Directory.EnumerateFileSystemEntries("/", ".usr.*").Any(), "/etc and /usr untouched, no staging folder or lock beside them");
        Assert.AreEqual(assets, File.ReadAllText(Path.Combine(project.Directory, "obj", "project.assets.json")), "obj/ is intact: the next build still works");
        project.Publish("-p:PublishOciBundle=true");
    }

    [TestMethod]
    public void ARootlessBundleThenARootRunOneLeavesEveryFileOwnedByRootAndTamperingIsRepaired()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("Owners", program: Hello("owned by root"));
        project.Publish("-p:PublishOciBundle=true", "-p:OciBundleRootless=true", "-p:OciBundleHostUid=1002", "-p:OciBundleHostGid=1002");
        Assert.AreEqual("", TestEnvironment.RunCapture("find", Path.Combine(project.BundleDir, "rootfs"), "!", "-uid", "1002").Output, "the rootless bundle belongs to the mapped user");

        project.Publish("-p:PublishOciBundle=true");
        ProcessResult notRoot = TestEnvironment.RunCapture("find", Path.Combine(project.BundleDir, "rootfs"), "(", "!", "-uid", "0", ")", "-o", "(", "!", "-gid", "0", ")");
        Assert.AreEqual("", FilterHome(notRoot.Output), "no file of a bundle that root runs belongs to the earlier mapped user");
        Assert.AreEqual("owned by root\n", Runc.RunAsRoot(project.BundleDir).Output);

        // What a container with a writable root does to a file of the app: same size, mtime put back.
        string deps = Path.Combine(project.BundleDir, "rootfs", "app", "Owners.deps.json");
        string original = File.ReadAllText(deps);
        File.WriteAllText(deps, new string('X', original.Length));
        File.SetLastWriteTimeUtc(deps, File.GetLastWriteTimeUtc(Path.Combine(project.BundleDir, "config.json")));

        ProcessResult again = project.Publish("-p:PublishOciBundle=true", "-v:d");
        StringAssert.Contains(again.Output, "Out of date: in ");
        Assert.AreEqual(original, File.ReadAllText(deps), "the next publish repairs it");
    }

    /// <summary>/home/app belongs to the app user (1654) by design; everything else must be root's.</summary>
    private static string FilterHome(string find) =>
        string.Join("\n", find.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.EndsWith("/rootfs/home/app", StringComparison.Ordinal)));

    [TestMethod]
    public void HostSecretsStayOutOfTheBundle()
    {
        using TestProject project = TestProject.WithSdkElement(
            "Secrets",
            items: """
                <OciBundleAppArg Include="/etc/shadow" />
                <OciBundleAppArg Include="--glob" Value="--glob=*.txt" />
                """,
            program: "Console.WriteLine(string.Join(\"|\", args));");
        project.Publish("-p:PublishOciBundle=true");
        Assert.IsFalse(File.Exists(Path.Combine(project.BundleDir, "rootfs", "etc", "shadow")), "an OciBundleAppArg is a string, never a file to copy");
        StringAssert.Contains(File.ReadAllText(Path.Combine(project.BundleDir, "config.json")), "\"--glob=*.txt\"");

        // A symlink in the project to a host secret, published as content: refused before the copy dereferences it.
        File.CreateSymbolicLink(Path.Combine(project.Directory, "token.txt"), "/etc/shadow");
        File.WriteAllText(Path.Combine(project.Directory, "Directory.Build.targets"), """
            <Project>
              <ItemGroup>
                <None Update="token.txt" CopyToPublishDirectory="PreserveNewest" />
              </ItemGroup>
            </Project>
            """);
        ProcessResult link = project.Publish(false, "-p:PublishOciBundle=true");
        StringAssert.Contains(link.Output, "error OCIB3005: the publish item", link.Output);
        StringAssert.Contains(link.Output, "/etc/shadow");
        Assert.IsFalse(File.Exists(Path.Combine(project.PublishDir, "token.txt")), "stopped before the copy");
    }
}
