using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Outputs;
using OciBundle.Tasks;
using OciBundle.Testing;
using OciBundle.Interop;
using OciBundle.Request;

namespace OciBundle.Tests;

/// <summary>
/// Issue 18 through the task, on a small app (the .NET shim libSystem.Native.so and a script) and a fixture
/// sysroot: no input makes the product destroy what it did not write, copy a secret it was not given, or keep a
/// bundle that does not reflect its inputs.
/// </summary>
[TestClass]
public sealed class SafetyTests
{
    private static string Shim => Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "libSystem.Native.so");

    /// <summary>A publish folder, a sysroot holding the libraries the shim needs (copied from this machine), and the folders around them.</summary>
    internal sealed class Fixture : IDisposable
    {
        private readonly TempDirectory _dir = new();

        public Fixture()
        {
            MakeApp(PublishDir);
            File.WriteAllText(Path.Combine(PublishDir, "Hello.deps.json"), "{}\n");
            MakeSysroot(Sysroot);
        }

        /// <summary>The small app: a shell script named Hello and .NET's libSystem.Native.so (an ELF file that needs libc).</summary>
        public static void MakeApp(string publishDir)
        {
            TestEnvironment.Require(File.Exists(Shim) && File.Exists("/lib/x86_64-linux-gnu/libc.so.6"), "an x86-64 Debian-style host (its libc and .NET's libSystem.Native.so make the fixture)");
            Directory.CreateDirectory(publishDir);
            File.Copy(Shim, Path.Combine(publishDir, "libSystem.Native.so"));
            File.WriteAllText(Path.Combine(publishDir, "Hello"), "#!/bin/sh\necho hello\n");
            File.SetUnixFileMode(Path.Combine(publishDir, "Hello"), (UnixFileMode)0b111_101_101);
        }

        /// <summary>A merged-/usr sysroot, as Debian 12 has it, with the host's libc and its companions.</summary>
        public static void MakeSysroot(string sysroot)
        {
            string lib = Path.Combine(sysroot, "usr", "lib", "x86_64-linux-gnu");
            Directory.CreateDirectory(lib);
            foreach (string name in new[] { "libc.so.6", "ld-linux-x86-64.so.2", "libm.so.6", "librt.so.1", "libdl.so.2", "libpthread.so.0" }.Where(n => File.Exists("/lib/x86_64-linux-gnu/" + n)))
            {
                File.Copy(Path.Combine("/lib/x86_64-linux-gnu", name), Path.Combine(lib, name));
            }

            File.CreateSymbolicLink(Path.Combine(sysroot, "lib"), "usr/lib");
            Directory.CreateDirectory(Path.Combine(sysroot, "lib64"));
            File.CreateSymbolicLink(Path.Combine(sysroot, "lib64", "ld-linux-x86-64.so.2"), "../usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        }

        public string Root => _dir.Path;
        public string PublishDir => _dir.Combine("proj", "bin", "publish");
        public string Bundle => _dir.Combine("proj", "bin", "oci-bundle");
        public string Sysroot => _dir.Combine("sysroot");
        public string State => _dir.Combine("proj", "obj", "state.json");
        public FakeBuildEngine Engine { get; private set; } = new();

        public BuildOciContainer Task(Action<BuildOciContainer>? change = null)
        {
            Engine = new FakeBuildEngine();
            BuildOciContainer task = TargetDefaults.Task();
            task.BuildEngine = Engine;
            task.PublishDirectory = PublishDir;
            task.BundleDirectory = Bundle;
            task.ProjectDirectory = _dir.Combine("proj");
            task.AppName = "Hello";
            task.ImageRepository = TargetDefaults.RepositoryOf(task.AppName);
            task.AppHost = "Hello";
            task.Sysroot = Sysroot;
            task.IncludeTimeZoneData = false;
            task.StateFile = State;
            change?.Invoke(task);
            return task;
        }

        /// <summary>Runs the task and asserts success; returns the summary line.</summary>
        public string Publish(Action<BuildOciContainer>? change = null)
        {
            BuildOciContainer task = Task(change);
            Assert.IsTrue(task.Execute(), string.Join("\n", Engine.Errors.Select(e => $"{e.Code}: {e.Message}")));
            return Engine.Messages.First(m => m.Importance == MessageImportance.High).Message!;
        }

        /// <summary>Runs the task and asserts it failed; returns the codes.</summary>
        public string[] Fail(Action<BuildOciContainer>? change = null)
        {
            Assert.IsFalse(Task(change).Execute());
            return Engine.Errors.Select(e => e.Code).ToArray();
        }

        public void Dispose() => _dir.Dispose();
    }

    private static TaskItem Item(string spec, params (string Key, string Value)[] metadata)
    {
        var item = new TaskItem(spec);
        foreach ((string key, string value) in metadata)
        {
            item.SetMetadata(key, value);
        }

        return item;
    }

    internal static string Rootfs(Fixture f, string path) => Path.Combine(f.Bundle, "rootfs") + path;

    [TestMethod]
    public void DataRulesTakeOnlyWhatAPackageOfTheSysrootOwns()
    {
        using var f = new Fixture();
        string zoneinfo = Path.Combine(f.Sysroot, "usr", "share", "zoneinfo");
        Directory.CreateDirectory(Path.Combine(zoneinfo, "Europe"));
        File.WriteAllText(Path.Combine(zoneinfo, "Europe", "Berlin"), "TZif2 from tzdata");
        File.WriteAllText(Path.Combine(zoneinfo, "build-machine-extra"), "made on the build machine");
        Directory.CreateDirectory(Path.Combine(zoneinfo, "local"));
        File.WriteAllText(Path.Combine(zoneinfo, "local", "Office"), "a hand-made zone");
        string info = Path.Combine(f.Sysroot, "var", "lib", "dpkg", "info");
        Directory.CreateDirectory(info);
        File.WriteAllText(Path.Combine(info, "tzdata.list"), "/.\n/usr\n/usr/share\n/usr/share/zoneinfo\n/usr/share/zoneinfo/Europe\n/usr/share/zoneinfo/Europe/Berlin\n");

        f.Publish(t => t.IncludeTimeZoneData = true);
        Assert.AreEqual("TZif2 from tzdata", File.ReadAllText(Rootfs(f, "/usr/share/zoneinfo/Europe/Berlin")));
        Assert.IsFalse(File.Exists(Rootfs(f, "/usr/share/zoneinfo/build-machine-extra")), "no package owns it");
        Assert.IsFalse(Directory.Exists(Rootfs(f, "/usr/share/zoneinfo/local")), "nor this folder");
        string log = string.Join("\n", f.Engine.Messages.Select(m => m.Message));
        StringAssert.Contains(log, "no package of the sysroot owns them: /usr/share/zoneinfo/build-machine-extra, /usr/share/zoneinfo/local", log);

        // A package that starts to own the file brings it in: the database is an input of the up-to-date check.
        File.AppendAllText(Path.Combine(info, "tzdata.list"), "/usr/share/zoneinfo/build-machine-extra\n");
        f.Publish(t => t.IncludeTimeZoneData = true);
        Assert.IsTrue(File.Exists(Rootfs(f, "/usr/share/zoneinfo/build-machine-extra")));

        // No package database at all (a folder made by hand): taken whole, and the log says so.
        Directory.Delete(Path.Combine(f.Sysroot, "var"), recursive: true);
        f.Publish(t => t.IncludeTimeZoneData = true);
        Assert.IsTrue(File.Exists(Rootfs(f, "/usr/share/zoneinfo/local/Office")));
        StringAssert.Contains(string.Join("\n", f.Engine.Messages.Select(m => m.Message)), "no dpkg database");
    }

    [TestMethod]
    public void ScannersFindTheDistributionAndEveryPackageThatContributedAFile()
    {
        using var f = new Fixture();
        Directory.CreateDirectory(Path.Combine(f.Sysroot, "etc"));
        Directory.CreateDirectory(Path.Combine(f.Sysroot, "usr", "lib"));
        File.WriteAllText(Path.Combine(f.Sysroot, "usr", "lib", "os-release"), "ID=debian\nVERSION_ID=\"12\"\n");
        File.CreateSymbolicLink(Path.Combine(f.Sysroot, "etc", "os-release"), "../usr/lib/os-release");
        File.WriteAllText(Path.Combine(f.Sysroot, "etc", "debian_version"), "12.13\n");
        string dpkg = Path.Combine(f.Sysroot, "var", "lib", "dpkg");
        Directory.CreateDirectory(Path.Combine(dpkg, "info"));
        File.WriteAllText(Path.Combine(dpkg, "status"), """
            Package: libc6
            Status: install ok installed
            Priority: optional
            Section: libs
            Installed-Size: 13001
            Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
            Architecture: amd64
            Multi-Arch: same
            Source: glibc
            Version: 2.36-9+deb12u14
            Depends: libgcc-s1
            Description: GNU C Library: Shared libraries
             Contains the standard libraries.

            Package: nano
            Status: install ok installed
            Architecture: amd64
            Version: 7.2-1
            """.Replace("            ", "", StringComparison.Ordinal));
        // As Debian 12 lists them: the pre-merge paths, which are /usr/lib/... in this merged sysroot.
        File.WriteAllText(Path.Combine(dpkg, "info", "libc6:amd64.list"), "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n/lib64/ld-linux-x86-64.so.2\n");
        File.WriteAllText(Path.Combine(dpkg, "info", "nano.list"), "/bin/nano\n");

        f.Publish();
        Assert.AreEqual("ID=debian\nVERSION_ID=\"12\"\n", File.ReadAllText(Rootfs(f, "/etc/os-release")), "through its link");
        Assert.AreEqual("12.13\n", File.ReadAllText(Rootfs(f, "/etc/debian_version")));
        CollectionAssert.AreEqual(new[] { "libc6" }, Directory.GetFiles(Rootfs(f, "/var/lib/dpkg/status.d")).Select(Path.GetFileName).ToArray(), "nano has no file in rootfs");
        Assert.AreEqual("Package: libc6\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 13001\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nArchitecture: amd64\nMulti-Arch: same\nSource: glibc\nVersion: 2.36-9+deb12u14\n",
            File.ReadAllText(Rootfs(f, "/var/lib/dpkg/status.d/libc6")));
        StringAssert.Contains(File.ReadAllText(Path.Combine(f.Bundle, "provenance.json")), "dpkg status of libc6");

        f.Publish(t => t.Sbom = false);
        Assert.IsFalse(Directory.Exists(Rootfs(f, "/var/lib/dpkg")) || File.Exists(Rootfs(f, "/etc/debian_version")), "OciBundleSbom=false: none of it");

        Directory.Delete(dpkg, recursive: true);
        f.Publish();
        Assert.IsFalse(Directory.Exists(Rootfs(f, "/var/lib/dpkg")));
        StringAssert.Contains(string.Join("\n", f.Engine.Messages.Select(m => m.Message)), "The sysroot has no dpkg database");
    }

    [TestMethod]
    public void ThePackageDatabaseSeesThroughMergedUsr()
    {
        using var f = new Fixture();
        string info = Path.Combine(f.Sysroot, "var", "lib", "dpkg", "info");
        Directory.CreateDirectory(info);
        File.WriteAllText(Path.Combine(info, "libc6:amd64.list"), "/lib/x86_64-linux-gnu/libc.so.6\n/lib64/ld-linux-x86-64.so.2\n");
        Closure.PackageDatabase db = Closure.PackageDatabase.Read(new Sysroots.SysrootView(f.Sysroot))!;
        Assert.AreEqual("libc6:amd64", db.OwnerOf("/usr/lib/x86_64-linux-gnu/libc.so.6"), "/lib is a link to usr/lib in this sysroot");
        Assert.AreEqual("libc6:amd64", db.OwnerOf("/lib64/ld-linux-x86-64.so.2"), "/lib64 is a real folder here, so its path stays");
        Assert.IsNull(db.OwnerOf("/usr/lib/x86_64-linux-gnu/libm.so.6"));
    }

    [TestMethod]
    public void ASecondPublishWithNothingChangedWritesNothingAndStillPrintsTheSummary()
    {
        using var f = new Fixture();
        string first = f.Publish();
        string before = TreeFingerprint.Of(f.Bundle) + File.GetLastWriteTimeUtc(f.State).Ticks;
        string inodes = TestEnvironment.RunCapture("find", f.Bundle, "-printf", "%P %i %C@\\n").Output;

        string second = f.Publish();

        StringAssert.Contains(second, "up to date");
        StringAssert.Contains(second, "run it with: sudo runc run --bundle ");
        Assert.AreEqual(first.Replace(")", ", up to date)", StringComparison.Ordinal), second.Replace("), run", "), run", StringComparison.Ordinal));
        Assert.AreEqual(before, TreeFingerprint.Of(f.Bundle) + File.GetLastWriteTimeUtc(f.State).Ticks, "no file written, the state included");
        Assert.AreEqual(inodes, TestEnvironment.RunCapture("find", f.Bundle, "-printf", "%P %i %C@\\n").Output, "no inode or ctime changed");
    }

    [TestMethod]
    public void AFileTamperedInsideTheBundleIsRepairedByTheNextPublish()
    {
        using var f = new Fixture();
        f.Publish();
        string deps = Rootfs(f, "/app/Hello.deps.json");
        File.WriteAllText(deps, "TAM\n"); // same size, mtime put back: only the ctime tells
        NativeMethods.SetTimes(deps, TargetDefaults.Epoch);
        File.WriteAllText(Rootfs(f, "/tmp/test.db"), "a database a run left");

        string summary = f.Publish();

        Assert.IsFalse(summary.Contains("up to date", StringComparison.Ordinal), summary);
        Assert.AreEqual("{}\n", File.ReadAllText(deps));
        Assert.IsFalse(File.Exists(Rootfs(f, "/tmp/test.db")), "what a run wrote into rootfs is gone");
        StringAssert.Contains(f.Publish(), "up to date", "and then it is up to date again");
    }

    [TestMethod]
    public void AFileDeletedFromThePublishOutputLeavesTheBundleAndOneAddedToAnOciBundleFileFolderArrives()
    {
        using var f = new Fixture();
        string extra = Path.Combine(f.Root, "extra");
        Directory.CreateDirectory(extra);
        File.WriteAllText(Path.Combine(extra, "one.txt"), "1");
        File.WriteAllText(Path.Combine(f.PublishDir, "old.txt"), "old");
        ITaskItem[] files = { Item(extra, ("TargetPath", "/opt/extra")) };
        f.Publish(t => t.Files = files);
        Assert.IsTrue(File.Exists(Rootfs(f, "/app/old.txt")));

        File.Delete(Path.Combine(f.PublishDir, "old.txt"));
        File.WriteAllText(Path.Combine(extra, "two.txt"), "2");
        f.Publish(t => t.Files = files);

        Assert.IsFalse(File.Exists(Rootfs(f, "/app/old.txt")), "deleted from the publish output, so from the bundle");
        Assert.AreEqual("2", File.ReadAllText(Rootfs(f, "/opt/extra/two.txt")));
    }

    [TestMethod]
    public void ASysrootLibraryReplacedByAnOlderDatedFileIsTakenAgain()
    {
        using var f = new Fixture();
        f.Publish();
        string libm = Path.Combine(f.Sysroot, "usr", "lib", "x86_64-linux-gnu", "libc.so.6");
        long size = new FileInfo(Rootfs(f, "/usr/lib/x86_64-linux-gnu/libc.so.6")).Length;

        // What dpkg does on an upgrade: the new file is unpacked beside the old and renamed over it, with the
        // package's (older) mtime. Same size here too: only inode and ctime differ.
        string temp = libm + ".dpkg-new";
        File.Copy(libm, temp);
        byte[] bytes = File.ReadAllBytes(temp);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(temp, bytes);
        File.SetLastWriteTimeUtc(temp, new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        File.Move(temp, libm, overwrite: true);

        string summary = f.Publish();

        Assert.IsFalse(summary.Contains("up to date", StringComparison.Ordinal), summary);
        Assert.AreEqual(size, new FileInfo(Rootfs(f, "/usr/lib/x86_64-linux-gnu/libc.so.6")).Length);
        CollectionAssert.AreEqual(bytes, File.ReadAllBytes(Rootfs(f, "/usr/lib/x86_64-linux-gnu/libc.so.6")), "the bundle has the upgraded library");
    }

    [TestMethod]
    public void AnyOptionChangeRebuildsAndARunOfTheSameOptionsDoesNot()
    {
        using var f = new Fixture();
        f.Publish();
        Assert.IsFalse(f.Publish(t => t.Hostname = "other").Contains("up to date", StringComparison.Ordinal), "a property change rebuilds");
        Assert.AreEqual("other", (string?)JObject.Parse(File.ReadAllText(Path.Combine(f.Bundle, "config.json")))["hostname"]);
        StringAssert.Contains(f.Publish(t => t.Hostname = "other"), "up to date");
    }

    [TestMethod]
    public void HostPathsInAppArgsStayStringsAndSecretsOrFoldersInArgsAreRefused()
    {
        using var f = new Fixture();
        string secret = Path.Combine(f.Sysroot, "etc", "shadow");
        Directory.CreateDirectory(Path.GetDirectoryName(secret)!);
        File.WriteAllText(secret, "root:$6$secret:19000:0:99999:7:::\n");
        File.SetUnixFileMode(secret, (UnixFileMode)0b110_000_000);

        f.Publish(t => t.AppArgs = new ITaskItem[] { Item("/etc/shadow"), Item("/etc") });
        Assert.IsFalse(File.Exists(Rootfs(f, "/etc/shadow")), "an OciBundleAppArg is a string for the app, never a file to copy");
        CollectionAssert.AreEqual(new[] { "/app/Hello", "/etc/shadow", "/etc" }, ((JArray)JObject.Parse(File.ReadAllText(Path.Combine(f.Bundle, "config.json")))["process"]!["args"]!).Select(a => (string)a!).ToArray());

        string before = TreeFingerprint.Of(f.Bundle);
        CollectionAssert.AreEqual(new[] { "OCIB1013" }, f.Fail(t => t.Args = new ITaskItem[] { Item("/etc/shadow") }));
        StringAssert.Contains(f.Engine.Errors.Single().Message, "OciBundleFile");
        CollectionAssert.AreEqual(new[] { "OCIB1012" }, f.Fail(t => t.Args = new ITaskItem[] { Item("/etc") }));
        Assert.AreEqual(before, TreeFingerprint.Of(f.Bundle), "nothing written");
    }

    [TestMethod]
    public void AnArgWithValueMetadataReachesConfigJsonVerbatim()
    {
        using var f = new Fixture();
        f.Publish(t => t.AppArgs = new ITaskItem[] { Item("glob", ("Value", "--glob=*.txt")), Item("path", ("Value", @"C:\dir\file")) });
        CollectionAssert.AreEqual(
            new[] { "/app/Hello", "--glob=*.txt", @"C:\dir\file" },
            ((JArray)JObject.Parse(File.ReadAllText(Path.Combine(f.Bundle, "config.json")))["process"]!["args"]!).Select(a => (string)a!).ToArray());
    }

    [TestMethod]
    public void AFileThatIsNotElfAtTheLibcPathIsACodedError()
    {
        using var f = new Fixture();
        string junk = Path.Combine(f.Root, "libc.so.6");
        File.WriteAllText(junk, "not a library\n");
        CollectionAssert.AreEqual(new[] { "OCIB2005" }, f.Fail(t => t.Files = new ITaskItem[] { Item(junk, ("TargetPath", "/usr/lib/x86_64-linux-gnu/libc.so.6")) }));
        StringAssert.Contains(f.Engine.Errors.Single().Message, "libc.so.6");
    }

    [TestMethod]
    public void AFileNameThatIsNotUtf8IsNamedEscapedNotDropped()
    {
        using var f = new Fixture();
        // A Latin-1 name: "caf\xe9.txt". Made with a shell, since .NET cannot name such a file.
        ProcessResult made = TestEnvironment.RunCapture("sh", "-c", $"printf x > \"{f.PublishDir}/$(printf 'caf\\351.txt')\"");
        Assert.AreEqual(0, made.ExitCode, made.All);
        CollectionAssert.AreEqual(new[] { "OCIB3006" }, f.Fail());
        StringAssert.Contains(f.Engine.Errors.Single().Message, @"caf\xe9.txt");
    }

    [TestMethod]
    public void TheRunCommandIsShellQuoted()
    {
        Assert.AreEqual("/srv/bundles/app", ShellWords.Quote("/srv/bundles/app"));
        Assert.AreEqual("'/srv/my bundles/app'", ShellWords.Quote("/srv/my bundles/app"));
        Assert.AreEqual(@"'it'\''s'", ShellWords.Quote("it's"));
        Assert.AreEqual("'$(rm -rf ~)'", ShellWords.Quote("$(rm -rf ~)"));

        using var f = new Fixture();
        string spaced = Path.Combine(f.Root, "my bundles", "app");
        BuildOciContainer task = f.Task(t => t.BundleDirectory = spaced);
        Assert.IsTrue(task.Execute(), string.Join("\n", f.Engine.Errors.Select(e => e.Message)));
        Assert.AreEqual($"sudo runc run --bundle '{spaced}' hello", task.RunCommand);
    }

    [TestMethod]
    public void PublishItemsThatAreSymlinksOutOfTheProjectAreCodedErrors()
    {
        using var dir = new TempDirectory();
        string project = dir.Combine("proj");
        Directory.CreateDirectory(Path.Combine(project, "assets"));
        File.WriteAllText(Path.Combine(project, "assets", "fine.txt"), "mine");
        File.CreateSymbolicLink(Path.Combine(project, "assets", "inside.txt"), "fine.txt");
        File.CreateSymbolicLink(Path.Combine(project, "assets", "shadow"), "/etc/shadow");
        File.CreateSymbolicLink(Path.Combine(project, "etc-link"), "/etc");

        IReadOnlyList<OciBundleException> errors = PublishItemCheck.Check(project, new[]
        {
            Path.Combine(project, "assets", "fine.txt"),
            Path.Combine(project, "assets", "inside.txt"),
            Path.Combine(project, "assets", "shadow"),
            Path.Combine(project, "etc-link", "passwd"),
            "/usr/share/dotnet/some-runtime-file.dll", // outside the project: a package or runtime file
        });

        CollectionAssert.AreEqual(new[] { "OCIB3005", "OCIB3005" }, errors.Select(e => e.Code).ToArray());
        StringAssert.Contains(errors[0].Message, "/etc/shadow");
        StringAssert.Contains(errors[1].Message, "/etc/passwd");

        var engine = new FakeBuildEngine();
        Assert.IsFalse(new CheckOciBundlePublishItems { BuildEngine = engine, ProjectDirectory = project, Items = new ITaskItem[] { new TaskItem(Path.Combine(project, "assets", "shadow")) } }.Execute());
        Assert.AreEqual("OCIB3005", engine.Errors.Single().Code);
    }

    [TestMethod]
    public void CleanRemovesOnlyWhatTheProductWrote()
    {
        using var f = new Fixture();
        f.Publish();
        string deploy = Path.Combine(f.Root, "deploy");
        Directory.CreateDirectory(deploy);
        File.WriteAllText(Path.Combine(deploy, "deploy.sh"), "echo\n");

        var engine = new FakeBuildEngine();
        Assert.IsTrue(new CleanOciOutputs { BuildEngine = engine, BundleDirectory = deploy, ImageDirectory = deploy, ImageArchive = Path.Combine(deploy, "deploy.sh") }.Execute());
        Assert.IsTrue(File.Exists(Path.Combine(deploy, "deploy.sh")), "not ours: kept");
        CollectionAssert.AreEqual(new[] { "OCIB3008", "OCIB3008", "OCIB3008" }, engine.Warnings.Select(w => w.Code).ToArray(), "and said so, for the folder (as bundle and as image) and the archive");
        StringAssert.Contains(engine.Warnings[0].Message, "OCIB1083", "with the reason publish would give");

        string lockFile = Path.Combine(Path.GetDirectoryName(f.Bundle)!, ".oci-bundle.lock");
        Assert.IsTrue(File.Exists(lockFile), "a publish leaves its lock file beside the bundle");
        Assert.IsTrue(new CleanOciOutputs { BuildEngine = new FakeBuildEngine(), BundleDirectory = f.Bundle }.Execute());
        Assert.IsFalse(Directory.Exists(f.Bundle), "ours: removed");
        Assert.IsFalse(File.Exists(lockFile), "and its lock file with it");
        CollectionAssert.AreEqual(Array.Empty<string>(), Directory.GetFileSystemEntries(Path.GetDirectoryName(f.Bundle)!).Where(e => Path.GetFileName(e).StartsWith(".oci-bundle", StringComparison.Ordinal)).ToArray(), "nothing of the product's is left beside it");

        // A publish after clean makes a new lock and works as the first did.
        f.Publish();
        Assert.IsTrue(Directory.Exists(f.Bundle) && File.Exists(lockFile));
    }

    [TestMethod]
    public void AnImageLayoutAndItsArchiveCarryTheMarkerAndAreReplacedAgain()
    {
        using var f = new Fixture();
        string image = Path.Combine(f.Root, "proj", "bin", "oci-image");
        string archive = Path.Combine(f.Root, "proj", "bin", "image.tar");
        f.Publish(t => { t.ImageDirectory = image; t.ImageArchive = archive; });
        StringAssert.Contains(File.ReadAllText(Path.Combine(image, OutputFolder.MarkerName)), "OCI image layout");
        Assert.IsNull(OutputFolder.CheckArchive(archive), "the archive is recognised as ours");
        f.Publish(t => { t.ImageDirectory = image; t.ImageArchive = archive; t.ImageTag = "v2"; });
        StringAssert.Contains(File.ReadAllText(Path.Combine(image, "index.json")), "\"v2\"");

        File.WriteAllText(archive, "someone else's file");
        CollectionAssert.AreEqual(new[] { "OCIB1085" }, f.Fail(t => { t.ImageDirectory = image; t.ImageArchive = archive; t.ImageTag = "v3"; }));
        Assert.AreEqual("someone else's file", File.ReadAllText(archive));
    }

    [TestMethod]
    public void ArgsAndEnvironmentOverArgMaxTogetherAreACodedError()
    {
        using var f = new Fixture();
        // Each under MAX_ARG_STRLEN, together over ARG_MAX (2 MiB).
        ITaskItem[] env = Enumerable.Range(0, 17).Select(i => Item("BIG" + i, ("Value", new string('x', 130000)))).ToArray();
        CollectionAssert.AreEqual(new[] { "OCIB1033" }, f.Fail(t => t.EnvironmentVariables = env));
    }

    [TestMethod]
    public void ASysrootWithNoLibrariesOfTheBundlesMachineGetsOneShortMessage()
    {
        using var f = new Fixture();
        string empty = Path.Combine(f.Root, "other-arch-sysroot");
        Directory.CreateDirectory(Path.Combine(empty, "usr", "lib"));
        CollectionAssert.AreEqual(new[] { "OCIB2006" }, f.Fail(t => t.Sysroot = empty));
        string message = f.Engine.Errors.Single().Message!;
        StringAssert.Contains(message, "OciBundleSysroot");
        StringAssert.Contains(message, "holds no libraries for amd64");
        Assert.IsTrue(message.Length < 500, "one short message, not a list: " + message);
    }

    [TestMethod]
    public void TheOuterBuildOfASingleTargetFrameworksProjectIsAskedForTheFrameworkNotCalledALibrary()
    {
        var engine = new FakeBuildEngine();
        Assert.IsFalse(new CheckOciBundleProject { BuildEngine = engine, TargetFrameworks = "net10.0" }.Execute());
        Assert.AreEqual("OCIB1130", engine.Errors.Single().Code);
        StringAssert.Contains(engine.Errors.Single().Message, "dotnet publish -f net10.0 -p:PublishOciBundle=true");
    }

    [TestMethod]
    public void CancelingMidCopyKeepsThePreviousBundleAndLeavesNoStagingFolder()
    {
        using var f = new Fixture();
        f.Publish();
        string before = TreeFingerprint.Of(f.Bundle);
        File.WriteAllBytes(Path.Combine(f.PublishDir, "big.bin"), new byte[16 << 20]);

        BuildOciContainer task = f.Task();
        task.Cancel(); // Ctrl+C before the copy: MSBuild calls Cancel() on the running task
        Assert.IsFalse(task.Execute());

        Assert.AreEqual(0, f.Engine.Errors.Count, "a cancel is not an error");
        Assert.AreEqual(before, TreeFingerprint.Of(f.Bundle), "the previous bundle is whole");
        Assert.IsFalse(Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(f.Bundle)!, ".oci-bundle.tmp-*").Any(), "no staging folder");
        StringAssert.Contains(f.Publish(), "OCI bundle", "the next publish writes the bundle");
        Assert.IsTrue(File.Exists(Rootfs(f, "/app/big.bin")));
    }

    [TestMethod]
    public void CancelingWhileFilesAreBeingCopiedStopsTheCopy()
    {
        using var f = new Fixture();
        f.Publish();
        string before = TreeFingerprint.Of(f.Bundle);
        Directory.CreateDirectory(Path.Combine(f.PublishDir, "data"));
        var chunk = new byte[256 << 10];
        for (int i = 0; i < 1500; i++)
        {
            chunk[0] = (byte)i;
            File.WriteAllBytes(Path.Combine(f.PublishDir, "data", $"{i:D4}.bin"), chunk); // 375 MB: seconds to copy
        }

        BuildOciContainer task = f.Task();
        string parent = Path.GetDirectoryName(f.Bundle)!;
        var run = System.Threading.Tasks.Task.Run(task.Execute);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!run.IsCompleted && !(Directory.EnumerateDirectories(parent, ".oci-bundle.tmp-*").FirstOrDefault() is { } staging && Directory.Exists(Path.Combine(staging, "rootfs", "app", "data"))) && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            Thread.Sleep(1);
        }

        task.Cancel();
        Assert.IsFalse(run.Result, "canceled while copying: " + string.Join("\n", f.Engine.Errors.Select(e => e.Message)));
        Assert.AreEqual(before, TreeFingerprint.Of(f.Bundle), "the previous bundle is whole");
        Assert.IsFalse(Directory.EnumerateFileSystemEntries(parent, ".oci-bundle.tmp-*").Any(), "no staging folder");
    }

    [TestMethod]
    public void ASecretInAPrivateFolderIsRefusedAsAnOciBundleArgThoughItsOwnModeIsOpen()
    {
        using var f = new Fixture();
        string dir = Path.Combine(f.Sysroot, "srv", "private");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "token"), "TOPSECRET\n");
        File.SetUnixFileMode(Path.Combine(dir, "token"), (UnixFileMode)0b110_100_100);
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_000_000);
        CollectionAssert.AreEqual(new[] { "OCIB1013" }, f.Fail(t => t.Args = new ITaskItem[] { Item("/srv/private/token") }));
        StringAssert.Contains(f.Engine.Errors.Single().Message, "mode 0700");
    }

    [TestMethod]
    public void NoFileOrFolderOfABundleIsWritableByGroupOrOthersButTmp()
    {
        using var f = new Fixture();
        File.SetUnixFileMode(Path.Combine(f.PublishDir, "Hello"), (UnixFileMode)0b111_111_111 | UnixFileMode.SetUser);
        Directory.CreateDirectory(Path.Combine(f.PublishDir, "shared"));
        File.SetUnixFileMode(Path.Combine(f.PublishDir, "shared"), (UnixFileMode)0b111_111_111);
        f.Publish();
        Assert.AreEqual((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Rootfs(f, "/app/Hello")), "0777 with setuid becomes 0755");
        Assert.AreEqual((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Rootfs(f, "/app/shared")));
        Assert.AreEqual((UnixFileMode)0b1_111_111_111, File.GetUnixFileMode(Rootfs(f, "/tmp")), "/tmp stays 1777");
        ProcessResult writable = TestEnvironment.RunCapture("find", Path.Combine(f.Bundle, "rootfs"), "!", "-type", "l", "-perm", "/022", "!", "-path", "*/rootfs/tmp");
        Assert.AreEqual("", writable.Output);
    }

    [TestMethod]
    public void APublishItemOfAnotherProjectThatIsASymlinkOutOfItsFolderIsRefused()
    {
        using var dir = new TempDirectory();
        string app = dir.Combine("app");
        string lib = dir.Combine("lib");
        Directory.CreateDirectory(app);
        Directory.CreateDirectory(lib);
        File.CreateSymbolicLink(Path.Combine(lib, "shadowlink"), "/etc/shadow");
        File.WriteAllText(Path.Combine(lib, "real.txt"), "x");
        File.CreateSymbolicLink(Path.Combine(lib, "alias.txt"), "real.txt");

        using var elsewhere = new TempDirectory(); // a folder outside the tree the projects share
        File.WriteAllText(elsewhere.Combine("key"), "topsecret\n");
        Directory.CreateSymbolicLink(Path.Combine(lib, "cfg"), elsewhere.Path);

        IReadOnlyList<OciBundleException> errors = PublishItemCheck.Check(
            app,
            new[] { Path.Combine(lib, "shadowlink"), Path.Combine(lib, "alias.txt"), Path.Combine(lib, "real.txt"), Path.Combine(lib, "cfg", "key"), "/usr/lib/x86_64-linux-gnu/libc.so.6" },
            new[] { "/usr/lib" });

        CollectionAssert.AreEqual(new[] { "OCIB3005", "OCIB3005" }, errors.Select(e => e.Code).ToArray());
        StringAssert.Contains(errors[0].Message, "/etc/shadow");
        StringAssert.Contains(errors[1].Message, "cfg/key", "a symlinked folder on the way of another project's item");
    }

    [TestMethod]
    public void AnOciArchiveOfAnotherToolIsNeverReplaced()
    {
        using var f = new Fixture();
        string other = Path.Combine(f.Root, "other");
        Directory.CreateDirectory(Path.Combine(other, "blobs", "sha256"));
        File.WriteAllText(Path.Combine(other, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        File.WriteAllText(Path.Combine(other, "index.json"), "{\"schemaVersion\":2,\"manifests\":[]}");
        string archive = Path.Combine(f.Root, "backup.tar");
        Assert.AreEqual(0, TestEnvironment.RunCapture("tar", "-C", other, "-cf", archive, "oci-layout", "index.json", "blobs").ExitCode);
        byte[] before = File.ReadAllBytes(archive);

        CollectionAssert.AreEqual(new[] { "OCIB1085" }, f.Fail(t => { t.ImageDirectory = Path.Combine(f.Root, "proj", "bin", "oci-image"); t.ImageArchive = archive; }));
        Assert.IsTrue(new CleanOciOutputs { BuildEngine = new FakeBuildEngine(), ImageArchive = archive }.Execute());
        CollectionAssert.AreEqual(before, File.ReadAllBytes(archive), "neither publish nor clean touched it");
    }

    [TestMethod]
    public void ARuntimeFilesChangeRebuildsTheImageAndNothingElseDoes()
    {
        using var f = new Fixture();
        string image = Path.Combine(f.Root, "proj", "bin", "oci-image");
        ITaskItem[] runtime = { Item("libSystem.Native.so", ("DestinationSubPath", "libSystem.Native.so")) };
        f.Publish(t => { t.ImageDirectory = image; });
        StringAssert.Contains(f.Publish(t => { t.ImageDirectory = image; }), "up to date");

        string changed = f.Publish(t => { t.ImageDirectory = image; t.RuntimeFiles = runtime; });

        Assert.IsFalse(changed.Contains("up to date", StringComparison.Ordinal), changed);
        StringAssert.Contains(f.Publish(t => { t.ImageDirectory = image; t.RuntimeFiles = runtime; }), "up to date");
    }

    [TestMethod]
    public void AWorldReadableDataFileIsNoProgramForOciBundleArg()
    {
        using var f = new Fixture();
        string token = Path.Combine(f.Sysroot, "srv", "pypirc");
        Directory.CreateDirectory(Path.GetDirectoryName(token)!);
        File.WriteAllText(token, "[pypi]\npassword = token\n");
        File.SetUnixFileMode(token, (UnixFileMode)0b110_100_100);
        CollectionAssert.AreEqual(new[] { "OCIB1014" }, f.Fail(t => t.Args = new ITaskItem[] { Item("/srv/pypirc") }));
    }
}
