using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Projects published once per test run and read by several tests, each checking a different thing of the same
/// output. The first test that asks publishes; the others, in any class and any worker, wait for that publish and get
/// the same project; a publish that failed (or skipped) fails (or skips) each of them the same way, with its log,
/// without publishing again. What a test gets is read-only to it: it runs the bundle and reads its files; a test that
/// republishes, changes the project or writes into its output makes a <see cref="TestProject"/> of its own.
/// The projects are deleted after the run (<see cref="SdkFeed.Cleanup"/>).
/// </summary>
internal static class SharedProjects
{
    private static readonly ConcurrentDictionary<string, Lazy<TestProject>> Published = new(StringComparer.Ordinal);

    /// <summary>The project published under <paramref name="key"/>, published by <paramref name="make"/> if no test has yet.</summary>
    public static TestProject Get(string key, Func<TestProject, ProcessResult> publish, Func<TestProject> make) =>
        Published.GetOrAdd(key, _ => new Lazy<TestProject>(() =>
        {
            TestProject project = make();
            try
            {
                publish(project);
                return project;
            }
            catch
            {
                project.Dispose();
                throw;
            }
        }, LazyThreadSafetyMode.ExecutionAndPublication)).Value;

    /// <summary>
    /// The probe app in its "dotnet" mode (ICU, OpenSSL, time zones, the root store), self-contained with every
    /// default, published while the build machine's certificate directory holds a root certificate no package owns,
    /// as Debian's ssl-cert-snakeoil.pem or a hand-made CA would. DotnetClosureTests checks that the app prints inside
    /// what it prints on the host, SecurityTests that only the CA bundle's certificates went in.
    /// </summary>
    /// <remarks>
    /// The extra certificate lies in /etc/ssl/certs for the length of the publish only. Other tests running meanwhile
    /// do not see it: a bundle gets the CA bundle file alone, and the tests that compare an app's output on the host
    /// with the container's count the host's roots from that file too.
    /// </remarks>
    public static TestProject GlobalizedProbe => Get("globalized-probe", PublishWithAnExtraRootOnTheHost,
        () => TestProject.WithSdkElement("Globalized", items: """<OciBundleAppArg Include="dotnet" />"""));

    /// <summary>The certificate <see cref="GlobalizedProbe"/>'s publish saw in /etc/ssl/certs, which no package owns.</summary>
    public const string ExtraRootSubject = "CN=OciBundle e2e extra root";

    private static ProcessResult PublishWithAnExtraRootOnTheHost(TestProject project)
    {
        TestEnvironment.Require(File.Exists("/etc/ssl/certs/ca-certificates.crt"), "the build machine has a CA bundle (apt-get install ca-certificates)");
        string extra = "/etc/ssl/certs/ocibundle-e2e-" + Guid.NewGuid().ToString("N")[..8] + ".pem";
        using (var key = RSA.Create(2048))
        {
            var request = new CertificateRequest(ExtraRootSubject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            using X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            File.WriteAllText(extra, cert.ExportCertificatePem() + "\n");
        }

        try
        {
            return project.Publish("-p:PublishOciBundle=true");
        }
        finally
        {
            File.Delete(extra);
        }
    }

    /// <summary>Deletes every project published here (after the run).</summary>
    internal static void DisposeAll()
    {
        foreach (Lazy<TestProject> project in Published.Values.Where(p => p.IsValueCreated))
        {
            project.Value.Dispose();
        }
    }
}
