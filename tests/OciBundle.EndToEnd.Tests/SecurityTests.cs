using System.Security.Cryptography.X509Certificates;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 12: a default bundle runs confined (no capabilities, no new privileges, Docker's seccomp allow-list, a
/// read-only root), what is asked for is in effect, and no certificate the distribution or the user did not provide
/// is trusted. Checked from inside the container, by the kernel's own account (/proc/self/status, errno).
/// </summary>
[TestClass]
public sealed class SecurityTests
{
    private const string Properties = "<ServerGarbageCollection>true</ServerGarbageCollection>";

    private const string Items = """
        <OciBundleAppArg Include="confine" />
        <OciBundleFile Include="/usr/bin/dash" TargetPath="/bin/sh" />
        <OciBundleMount Include="/cache" Type="tmpfs" Source="tmpfs" Options="nosuid;nodev;size=16m;mode=1777" />
        <OciBundleRlimit Include="RLIMIT_NOFILE" Soft="4096" Hard="8192" Condition="'$(ProbeRlimit)' == 'true'" />
        """;

    /// <summary>An ordinary app's work under the filter: server GC's heaps and threads, the thread pool, fork and exec of a child (pid 1 is the app).</summary>
    private const string Works = "server gc: True\nthread pool: 2016\nchild: child of 1 exit 0\n";

    private const string NoCapabilities = "CapEff: 0000000000000000\nCapPrm: 0000000000000000\nCapInh: 0000000000000000\nCapAmb: 0000000000000000\n";

    /// <summary>The open-file limit the runtime gives when config.json sets none: this process's own hard limit (.NET raises soft to hard).</summary>
    private static string InheritedNofile()
    {
        string line = File.ReadAllLines("/proc/self/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        string hard = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4];
        return $"nofile: {hard} {hard}\n";
    }

    [TestMethod]
    public void TheDefaultBundleRunsConfinedAndWhatIsAskedForIsInEffect()
    {
        Runc.RequireRoot();
        using TestProject project = TestProject.WithSdkElement("Confined", Properties, Items);
        ProcessResult publish = project.Publish("-p:PublishOciBundle=true");
        Assert.IsFalse(publish.Output.Contains("warning OCIB", StringComparison.Ordinal), "the defaults warn of nothing\n" + publish.Output);

        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        Assert.AreEqual(
            NoCapabilities + "NoNewPrivs: 1\nSeccomp: 2\nunshare: EPERM\nkeyctl: EPERM\nbpf: EPERM\nio_uring_setup: EPERM\nbind 80: AccessDenied\n" + Works
            + InheritedNofile() + "write /app: read-only\nwrite /tmp: ok\nwrite /cache: ok\n",
            run.Output);

        // uid 1654 with CAP_NET_BIND_SERVICE: in all five sets, so it survives execve and binds port 80.
        project.Publish("-p:PublishOciBundle=true", "-p:OciBundleCapabilities=CAP_NET_BIND_SERVICE", "-p:ProbeRlimit=true");
        run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        Assert.AreEqual(
            "CapEff: 0000000000000400\nCapPrm: 0000000000000400\nCapInh: 0000000000000400\nCapAmb: 0000000000000400\n"
            + "NoNewPrivs: 1\nSeccomp: 2\nunshare: EPERM\nkeyctl: EPERM\nbpf: EPERM\nio_uring_setup: EPERM\nbind 80: ok\n" + Works + "nofile: 8192 8192\nwrite /app: read-only\nwrite /tmp: ok\nwrite /cache: ok\n",
            run.Output);

        // Unconfined: the calls reach the kernel, which answers for itself (unshare of a user namespace is EINVAL in a
        // multithreaded process), and the build says so.
        publish = project.Publish("-p:PublishOciBundle=true", "-p:OciBundleSeccomp=unconfined");
        StringAssert.Contains(publish.Output, "warning OCIB3013", publish.Output);
        run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        // keyctl finds the session keyring runc made; bpf and io_uring get the kernel's own answers to their missing
        // arguments (EINVAL or EFAULT; a kernel with io_uring switched off answers EPERM itself).
        static string Sysctl(string name) => File.Exists("/proc/sys/kernel/" + name) ? File.ReadAllText("/proc/sys/kernel/" + name).Trim() : "0";
        string ioUring = Sysctl("io_uring_disabled") == "0" ? "EFAULT" : "EPERM";
        StringAssert.Contains(run.Output, "Seccomp: 0\nunshare: EINVAL\nkeyctl: ok\n", run.Output);
        StringAssert.Matches(run.Output, new System.Text.RegularExpressions.Regex("\nbpf: (EINVAL|EFAULT)\n"), "bpf reaches the kernel");
        StringAssert.Contains(run.Output, $"\nio_uring_setup: {ioUring}\n", run.Output);
    }

    [TestMethod]
    public void ARootlessBundleRunsConfinedToo()
    {
        (uint uid, uint gid) = Runc.RequireRootlessUser();
        using TestProject project = TestProject.WithSdkElement("RootlessConfined", "<OciBundleRootless>true</OciBundleRootless>" + Properties, Items);
        Runc.OpenUpFor(project.Directory);
        project.Publish("-p:PublishOciBundle=true", $"-p:OciBundleHostUid={uid}", $"-p:OciBundleHostGid={gid}");

        ProcessResult run = Runc.RunRootless(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        string nofile = run.Output.Split('\n').Single(l => l.StartsWith("nofile: ", StringComparison.Ordinal));
        Assert.AreEqual(
            NoCapabilities + "NoNewPrivs: 1\nSeccomp: 2\nunshare: EPERM\nkeyctl: EPERM\nbpf: EPERM\nio_uring_setup: EPERM\nbind 80: AccessDenied\n" + Works
            + nofile + "\nwrite /app: read-only\nwrite /tmp: ok\nwrite /cache: ok\n",
            run.Output);
        Assert.AreEqual(nofile.Split(' ')[1], nofile.Split(' ')[2], ".NET raised its soft limit to the hard one");

        // Capabilities in a user namespace are the namespace's: container root with CAP_NET_BIND_SERVICE binds port 80 of its own network.
        project.Publish("-p:PublishOciBundle=true", $"-p:OciBundleHostUid={uid}", $"-p:OciBundleHostGid={gid}", "-p:OciBundleCapabilities=NET_BIND_SERVICE");
        run = Runc.RunRootless(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        StringAssert.StartsWith(run.Output, "CapEff: 0000000000000400\nCapPrm: 0000000000000400\nCapInh: 0000000000000000\nCapAmb: 0000000000000000\n", run.Output);
        StringAssert.Contains(run.Output, "Seccomp: 2\n", run.Output);
        StringAssert.Contains(run.Output, "bind 80: ok\n", run.Output);
    }

    [TestMethod]
    public void OnlyTheCaBundlesCertificatesAreTrusted()
    {
        Runc.RequireRoot();
        const string caBundle = "/etc/ssl/certs/ca-certificates.crt";
        TestEnvironment.Require(File.Exists(caBundle), "the build machine has a CA bundle (apt-get install ca-certificates)");

        // Published while a certificate no package owns lay in the certificate directory (as Debian's
        // ssl-cert-snakeoil.pem, or a hand-made CA); DotnetClosureTests checks the same bundle's app against the host.
        TestProject project = SharedProjects.GlobalizedProbe;

        string certs = Path.Combine(project.BundleDir, "rootfs", "etc", "ssl", "certs");
        CollectionAssert.AreEqual(new[] { "ca-certificates.crt" }, Directory.GetFileSystemEntries(certs).Select(Path.GetFileName).ToArray(),
            "nothing but the CA bundle: no snakeoil, no unowned extra, no hash links");
        CollectionAssert.AreEqual(File.ReadAllBytes(caBundle), File.ReadAllBytes(Path.Combine(certs, "ca-certificates.crt")));

        ProcessResult run = Runc.RunAsRoot(project.BundleDir);
        Assert.AreEqual(0, run.ExitCode, run.All);
        var inBundle = new X509Certificate2Collection();
        inBundle.ImportFromPemFile(caBundle);
        int distinct = inBundle.Select(c => c.Thumbprint).Distinct().Count();
        StringAssert.Contains(run.Output, $"\nroots: {distinct}\n", $"the app trusts exactly the CA bundle's {distinct} roots\n{run.Output}");
    }
}
