using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 29: one commit, one image, whoever builds it and wherever. Two clones of one git commit (an app and a library
/// it references, a pinned sysroot) are published twice, with every input of the build machine the product must not
/// see changed at once between the two: the checkout's path, the umask (022, 077), the user (root, ocibundle-test),
/// the NuGet folder (the machine's; one of that user's whose files are 0600 or 0744), the caches, and every source's
/// mtime. The manifest digest, config.json, provenance.json and the SBOM must be the same bytes; when they are not,
/// the message says which input leaked, from what differs. A third publish of the first clone shows what the two
/// defaults do: SOURCE_DATE_EPOCH wins over the commit's time, and OciBundleDeterministicSourcePaths=false gives the
/// absolute paths back.
/// </summary>
[TestClass]
public sealed class ReproducibilityTests
{
    private const long CommitSeconds = 1767225600; // 2026-01-01T00:00:00Z
    private const string Bookworm = "libstdc++6,libicu72,libssl3,zlib1g,tzdata,ca-certificates";
    private const string BundlePath = "bin/Release/net10.0/linux-x64/oci-bundle";
    private const string ImagePath = "bin/Release/net10.0/linux-x64/oci-image";

    private static readonly JsonLoadSettings Settings = new();

    /// <summary>JSON with dates left as written (Newtonsoft would parse them into local DateTimes).</summary>
    private static JObject Json(string path) => JObject.Load(new JsonTextReader(new StringReader(File.ReadAllText(path))) { DateParseHandling = DateParseHandling.None }, Settings);

    private static string Iso(long seconds) => DateTimeOffset.FromUnixTimeSeconds(seconds).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    [TestMethod]
    public void OneCommitGivesOneImageWhoeverBuildsItWhereverAndUnderAnyUmask()
    {
        (uint uid, uint gid) = Runc.RequireRootlessUser();
        TestEnvironment.Require(TestEnvironment.Which("git") is not null && TestEnvironment.Which("python3") is not null, "git and python3");
        string tarball = DebianSysroots.Get("bookworm", "amd64", Bookworm);
        var clock = Stopwatch.StartNew();
        using var work = new TempDirectory("ocibundle-repro-");
        Runc.OpenUpFor(work.Path);
        Runc.OpenUpFor(SdkFeed.Feed);
        string origin = MakeRepository(work, tarball);

        // A: root, umask 022, a short path, the machine's NuGet folder.
        string a = work.Combine("a", "repro");
        Git(work.Path, "clone", "-q", origin, a);
        var timings = new List<string>();
        ProcessResult publishA = Publish("A", a, work, timings);

        // B: ocibundle-test, umask 077, a longer path, its own NuGet folder (0600 and 0744 files, 0700 folders), other mtimes.
        string b = work.Combine("b", "some", "much", "longer", "path", "to", "the", "checkout");
        Git(work.Path, "clone", "-q", origin, b);
        ProcessResult touch = TestEnvironment.RunCapture("find", b, "-path", "*/.git", "-prune", "-o", "-exec", "touch", "-h", "-d", "2001-02-03 04:05:06", "{}", "+");
        Assert.AreEqual(0, touch.ExitCode, touch.All);
        string nuget = CopyPackagesWithOtherModes(Path.Combine(a, "app"), Path.Combine(a, "lib"), work.Combine("nuget-b"));
        Chown(uid, gid, b, nuget);
        ProcessResult publishB = Publish("B", b, work, timings, nuget);

        string bundleA = Path.Combine(a, "app", BundlePath), bundleB = Path.Combine(b, "app", BundlePath);
        string leak = Leaks(bundleA, bundleB, a, b);
        Assert.AreEqual("", leak, $"the two builds differ:\n{leak}\n--- A ---\n{publishA.Output}\n--- B ---\n{publishB.Output}");
        Assert.AreEqual(ManifestDigest(Path.Combine(a, "app", ImagePath)), ManifestDigest(Path.Combine(b, "app", ImagePath)), leak);

        // The umask-077 bundle of the other user runs; the stack trace and CallerFilePath say /_/, not the checkout.
        ProcessResult run = Runc.RunAsRoot(bundleB);
        Assert.AreEqual(0, run.ExitCode, run.All);
        Assert.AreEqual("hello from the library at /_/lib/Greeter.cs, called from /_/app/Program.cs\n", run.Output, run.All);
        AssertLayerHeaders(Path.Combine(b, "app", ImagePath));
        AssertCreatedAtTheCommit(Path.Combine(a, "app"));

        // The defaults, turned off: SOURCE_DATE_EPOCH wins over the commit, and the checkout's paths come back without the mapping.
        var clockC = Stopwatch.StartNew();
        ProcessResult publishC = Dotnet(Path.Combine(a, "app"), Env(work, "a", ("SOURCE_DATE_EPOCH", "1700000000")), "-p:OciBundleDeterministicSourcePaths=false");
        Assert.AreEqual(0, publishC.ExitCode, publishC.All);
        timings.Add($"C (incremental: SOURCE_DATE_EPOCH, no path mapping) {clockC.Elapsed.TotalSeconds:F1} s");
        Assert.AreEqual(Iso(1700000000), Created(Path.Combine(a, "app", ImagePath)));
        Assert.AreEqual(1700000000, new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(bundleA, "rootfs", "app", "repro.dll"))).ToUnixTimeSeconds());
        foreach (string assembly in new[] { "repro.dll", "lib.dll" })
        {
            Assert.IsTrue(Contains(File.ReadAllBytes(Path.Combine(bundleA, "rootfs", "app", assembly)), a + "/"), $"{assembly} names the checkout again without the mapping");
        }

        Console.WriteLine($"{string.Join("; ", timings)}; whole test {clock.Elapsed.TotalSeconds:F1} s");
    }

    private static string Sha256(string path)
    {
        using FileStream s = File.OpenRead(path);
        return "sha256:" + Convert.ToHexString(SHA256.HashData(s)).ToLowerInvariant();
    }

    /// <summary>A git repository of one commit at <see cref="CommitSeconds"/>: an app that references a library, with a pinned sysroot.</summary>
    private static string MakeRepository(TempDirectory work, string tarball)
    {
        string origin = work.Combine("origin");
        using TestProject template = TestProject.FromXml("repro", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <Sdk Name="OciBundle.Sdk" Version="$(OciBundleSdkVersion)" />
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <OciBundleSysroot>{tarball}</OciBundleSysroot>
                <OciBundleSysrootDigest>{Sha256(tarball)}</OciBundleSysrootDigest>
              </PropertyGroup>
              <ItemGroup>
                <ProjectReference Include="../lib/lib.csproj" />
              </ItemGroup>
            </Project>
            """, """
            Console.WriteLine($"{Lib.Greeter.Hello()}, called from {new System.Diagnostics.StackTrace(true).GetFrame(0)!.GetFileName()}");
            """);
        Directory.CreateDirectory(Path.Combine(origin, "lib"));
        foreach (string file in new[] { "repro.csproj", "Program.cs", "NuGet.config" })
        {
            Directory.CreateDirectory(Path.Combine(origin, "app"));
            File.Copy(Path.Combine(template.Directory, file), Path.Combine(origin, "app", file));
        }

        File.Move(Path.Combine(origin, "app", "NuGet.config"), Path.Combine(origin, "NuGet.config"));
        File.WriteAllText(Path.Combine(origin, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(origin, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(origin, "lib", "lib.csproj"), "<Project Sdk=\"Microsoft.NET.Sdk\">\n  <PropertyGroup>\n    <TargetFramework>net10.0</TargetFramework>\n  </PropertyGroup>\n</Project>\n");
        File.WriteAllText(Path.Combine(origin, "lib", "Greeter.cs"), "namespace Lib;\n\npublic static class Greeter\n{\n    public static string Hello() => $\"hello from the library at {Here()}\";\n\n    private static string Here([System.Runtime.CompilerServices.CallerFilePath] string file = \"\") => file;\n}\n");
        Git(origin, "init", "-q");
        Git(origin, "add", ".");
        Git(origin, "commit", "-q", "-m", "the app");
        return origin;
    }

    private static void Git(string dir, params string[] args)
    {
        var env = new Dictionary<string, string?>
        {
            ["GIT_AUTHOR_DATE"] = $"@{CommitSeconds - 86400} +0100",
            ["GIT_COMMITTER_DATE"] = $"@{CommitSeconds} +0100",
            ["GIT_CONFIG_NOSYSTEM"] = "1",
        };
        ProcessResult git = TestEnvironment.Run("git", new[] { "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main" }.Concat(args), dir, env, TimeSpan.FromMinutes(1));
        Assert.AreEqual(0, git.ExitCode, git.All);
    }

    /// <summary>Each build's own caches (sysroot, digests) in the work folder: none is shared between A and B.</summary>
    private static Dictionary<string, string?> Env(TempDirectory work, string who, params (string Key, string Value)[] more)
    {
        var env = new Dictionary<string, string?>
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["MSBUILDTERMINALLOGGER"] = "off",
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["OCIBUNDLE_SYSROOT_CACHE"] = work.Combine("sysroots-" + who),
            ["XDG_CACHE_HOME"] = work.Combine("cache-" + who),
            ["SOURCE_DATE_EPOCH"] = null,
        };
        foreach ((string key, string value) in more)
        {
            env[key] = value;
        }

        return env;
    }

    private static ProcessResult Dotnet(string project, Dictionary<string, string?> env, params string[] args) =>
        TestEnvironment.Run("dotnet", new[] { "publish", "-c", "Release", "-nologo", "-p:PublishOciBundle=true", "-p:PublishOciImage=true" }.Concat(args), project, env, TimeSpan.FromMinutes(8));

    /// <summary>Publishes the clone's app: as root (A), or as ocibundle-test under umask 077 with its own NuGet folder (B).</summary>
    private static ProcessResult Publish(string name, string clone, TempDirectory work, List<string> timings, string? nuget = null)
    {
        var clock = Stopwatch.StartNew();
        string app = Path.Combine(clone, "app");
        ProcessResult result;
        if (nuget is null)
        {
            result = Dotnet(app, Env(work, "a"));
        }
        else
        {
            // runuser resets HOME to the user's; env sets the rest, then the shell the umask.
            var env = Env(work, "b", ("NUGET_PACKAGES", nuget), ("HOME", "/home/" + Runc.RootlessUser));
            Directory.CreateDirectory(work.Combine("sysroots-b"));
            Directory.CreateDirectory(work.Combine("cache-b"));
            Chown(uint.Parse(TestEnvironment.RunCapture("id", "-u", Runc.RootlessUser).Output.Trim()), uint.Parse(TestEnvironment.RunCapture("id", "-g", Runc.RootlessUser).Output.Trim()), work.Combine("sysroots-b"), work.Combine("cache-b"));
            var args = new List<string> { "-u", Runc.RootlessUser, "--", "env" };
            args.AddRange(env.Where(e => e.Value is not null).Select(e => $"{e.Key}={e.Value}"));
            args.AddRange(new[] { "sh", "-c", "umask 077 && exec dotnet publish -c Release -nologo -p:PublishOciBundle=true -p:PublishOciImage=true" });
            result = TestEnvironment.Run("runuser", args, app, null, TimeSpan.FromMinutes(8));
        }

        Assert.AreEqual(0, result.ExitCode, $"publish {name} failed:\n{result.All}");
        timings.Add($"{name} {clock.Elapsed.TotalSeconds:F1} s");
        return result;
    }

    private static void Chown(uint uid, uint gid, params string[] paths)
    {
        foreach (string path in paths)
        {
            ProcessResult chown = TestEnvironment.RunCapture("chown", "-R", $"{uid}:{gid}", path);
            Assert.AreEqual(0, chown.ExitCode, chown.All);
        }
    }

    /// <summary>
    /// The packages A's restore used (each project's project.nuget.cache), copied into a NuGet folder of B's own with
    /// other modes: folders 0700, files 0600 or 0744 (NuGet's own 0766 under a umask), by turns. The SDK package itself
    /// is left out: B's restore extracts it from the feed, under umask 077.
    /// </summary>
    private static string CopyPackagesWithOtherModes(string app, string lib, string folder)
    {
        var packages = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string project in new[] { app, lib })
        {
            foreach (JToken file in JObject.Parse(File.ReadAllText(Path.Combine(project, "obj", "project.nuget.cache")))["expectedPackageFiles"]!)
            {
                packages.Add(Path.GetDirectoryName((string)file!)!);
            }
        }

        int turn = 0;
        foreach (string package in packages.Where(p => !p.Contains("/ocibundle.sdk/", StringComparison.Ordinal)))
        {
            string target = Path.Combine(folder, Path.GetFileName(Path.GetDirectoryName(package))!, Path.GetFileName(package));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            ProcessResult copy = TestEnvironment.RunCapture("cp", "-R", package, target);
            Assert.AreEqual(0, copy.ExitCode, copy.All);
            foreach (string entry in Directory.EnumerateFileSystemEntries(target, "*", SearchOption.AllDirectories).Append(target))
            {
                File.SetUnixFileMode(entry, Directory.Exists(entry) ? (UnixFileMode)0b111_000_000 : (UnixFileMode)(turn++ % 2 == 0 ? 0b110_000_000 : 0b111_100_100));
            }
        }

        Assert.IsTrue(packages.Any(p => p.Contains("microsoft.netcore.app.runtime.linux-x64", StringComparison.Ordinal)), string.Join(", ", packages));
        return folder;
    }

    private static string ManifestDigest(string layout) => (string)Json(Path.Combine(layout, "index.json"))["manifests"]![0]!["digest"]!;

    private static string Created(string layout)
    {
        JObject manifest = Json(Path.Combine(layout, "blobs", "sha256", ManifestDigest(layout)[7..]));
        return (string)Json(Path.Combine(layout, "blobs", "sha256", ((string)manifest["config"]!["digest"]!)[7..]))["created"]!;
    }

    private static void AssertCreatedAtTheCommit(string app)
    {
        Assert.AreEqual(Iso(CommitSeconds), Created(Path.Combine(app, ImagePath)), "created is the commit's time, as git log -1 --format=%ct gives it");
        Assert.AreEqual(Iso(CommitSeconds), (string?)Json(Path.Combine(app, BundlePath, "sbom.spdx.json"))["creationInfo"]!["created"]);
        Assert.AreEqual(315532800, new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(app, BundlePath, "rootfs", "app", "repro.dll"))).ToUnixTimeSeconds(), "files keep the fixed time");
    }

    private static bool Contains(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) >= 0;

    /// <summary>
    /// What differs between the two bundles, each with the input it points at: a mode (umask, the NuGet folder's modes),
    /// a timestamp (the sources' mtimes), bytes that name a checkout, a home or a NuGet folder (the path the compiler or
    /// provenance.json wrote). Empty when the bundles are the same.
    /// </summary>
    private static string Leaks(string bundleA, string bundleB, string a, string b)
    {
        var markers = new[] { (a + "/", "A's checkout path"), (b + "/", "B's checkout path"), ("/root/", "root's home (A's NuGet folder or caches)"), ("/home/" + Runc.RootlessUser, "B's home"), ("nuget-b", "B's NuGet folder"), ("sysroots-", "a sysroot cache's path"), ("cache-", "a digest cache's path") };
        string Says(byte[] x, byte[] y) => string.Concat(markers.Where(m => Contains(x, m.Item1) || Contains(y, m.Item1)).Select(m => $"; it names {m.Item2}"));
        var found = new List<string>();
        foreach (string name in new[] { "config.json", "provenance.json", "sbom.spdx.json" })
        {
            byte[] x = File.ReadAllBytes(Path.Combine(bundleA, name)), y = File.ReadAllBytes(Path.Combine(bundleB, name));
            if (!x.AsSpan().SequenceEqual(y))
            {
                string[] lx = Encoding.UTF8.GetString(x).Split('\n'), ly = Encoding.UTF8.GetString(y).Split('\n');
                int line = Enumerable.Range(0, Math.Min(lx.Length, ly.Length)).FirstOrDefault(i => lx[i] != ly[i]);
                found.Add($"{name} differs at line {line + 1}: A '{lx.ElementAtOrDefault(line)?.Trim()}', B '{ly.ElementAtOrDefault(line)?.Trim()}'{Says(x, y)}");
            }
        }

        string ra = Path.Combine(bundleA, "rootfs"), rb = Path.Combine(bundleB, "rootfs");
        var paths = new SortedSet<string>(Entries(ra).Concat(Entries(rb)), StringComparer.Ordinal);
        foreach (string path in paths)
        {
            string pa = ra + path, pb = rb + path;
            var ia = new FileInfo(pa);
            var ib = new FileInfo(pb);
            if (!Path.Exists(pa) && ia.LinkTarget is null || !Path.Exists(pb) && ib.LinkTarget is null)
            {
                found.Add($"{path} is only in {(Path.Exists(pa) ? "A" : "B")}");
            }
            else if (ia.LinkTarget is not null || ib.LinkTarget is not null)
            {
                if (ia.LinkTarget != ib.LinkTarget)
                {
                    found.Add($"{path}: link to {ia.LinkTarget} in A, {ib.LinkTarget} in B");
                }
            }
            else if (File.GetUnixFileMode(pa) != File.GetUnixFileMode(pb))
            {
                found.Add($"{path}: mode {Convert.ToString((int)File.GetUnixFileMode(pa), 8)} in A, {Convert.ToString((int)File.GetUnixFileMode(pb), 8)} in B: the build machine's modes leaked (the umask, or the modes in the NuGet folder)");
            }
            else if (File.GetLastWriteTimeUtc(pa) != File.GetLastWriteTimeUtc(pb))
            {
                found.Add($"{path}: mtime {File.GetLastWriteTimeUtc(pa):O} in A, {File.GetLastWriteTimeUtc(pb):O} in B: the sources' mtimes leaked");
            }
            else if (File.Exists(pa) && !File.ReadAllBytes(pa).AsSpan().SequenceEqual(File.ReadAllBytes(pb)))
            {
                found.Add($"{path}: the contents differ{Says(File.ReadAllBytes(pa), File.ReadAllBytes(pb))}");
            }
        }

        return string.Join("\n", found.Take(25));
    }

    private static IEnumerable<string> Entries(string root) =>
        Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Select(p => p[root.Length..]);

    /// <summary>
    /// The layers' tar headers, read with Python's tarfile: regular files only 0644 or 0755 (programs: the app host,
    /// createdump, the interpreter, libc.so.6), folders 0755 (/tmp 1777, /root 0700), links 0777; root's, but the app's home.
    /// </summary>
    private static void AssertLayerHeaders(string layout)
    {
        const string Script = """
            import json, sys, tarfile
            layout = sys.argv[1]
            index = json.load(open(layout + "/index.json"))
            manifest = json.load(open(layout + "/blobs/sha256/" + index["manifests"][0]["digest"][7:]))
            out = {}
            for layer in manifest["layers"]:
                with tarfile.open(layout + "/blobs/sha256/" + layer["digest"][7:], "r:gz") as t:
                    for m in t.getmembers():
                        kind = "file" if m.isfile() else "dir" if m.isdir() else "link" if m.issym() else "other"
                        out[m.name.rstrip("/")] = "%s %04o %d:%d" % (kind, m.mode, m.uid, m.gid)
            print(json.dumps(out))
            """;
        ProcessResult python = TestEnvironment.RunCapture("python3", "-c", Script, layout);
        Assert.AreEqual(0, python.ExitCode, python.All);
        Dictionary<string, string> headers = JObject.Parse(python.Output).Properties().ToDictionary(p => p.Name, p => (string)p.Value!);
        foreach ((string name, string header) in headers)
        {
            string[] h = header.Split(' ');
            string expected = h[0] switch
            {
                "file" => h[1] is "0644" or "0755" ? h[1] : "0644 or 0755",
                "dir" => name == "tmp" ? "1777" : name == "root" ? "0700" : "0755",
                "link" => "0777",
                _ => "no other kind",
            };
            Assert.AreEqual(expected, h[1], $"{name}: {header}");
            Assert.AreEqual(name == "home/app" ? "1654:1654" : "0:0", h[2], $"{name}: {header}");
        }

        foreach ((string name, string mode) in new[] { ("app/repro", "0755"), ("app/createdump", "0755"), ("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "0755"), ("usr/lib/x86_64-linux-gnu/libc.so.6", "0755"), ("app/repro.dll", "0644"), ("app/lib.dll", "0644"), ("app/libcoreclr.so", "0644"), ("app/System.Private.CoreLib.dll", "0644") })
        {
            Assert.AreEqual($"file {mode} 0:0", headers[name], name);
        }
    }
}
