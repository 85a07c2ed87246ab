using OciBundle.Closure;
using OciBundle.Diagnostics;

namespace OciBundle.Dotnet;

/// <summary>
/// What the .NET runtime needs that no ELF walk sees: the libraries its native shims open with <c>dlopen</c>
/// and the data files it reads. Each rule is keyed on a file of the runtime, so a trimmed or invariant app gets
/// only what it can load.
/// </summary>
internal static class DotnetRuntimeRules
{
    private const string GlobalizationShim = "libSystem.Globalization.Native.so";
    private const string OpenSslShim = "libSystem.Security.Cryptography.Native.OpenSsl.so";
    private const string GssapiShim = "libSystem.Net.Security.Native.so";

    // The OpenSSL shim tries these sonames in this order (dotnet/runtime opensslshim.c).
    private static readonly string[] OpenSslNames = { "libssl.so.3", "libssl.so.1.1", "libssl.so.1.0.2", "libssl.so.1.0.0", "libssl.so.10" };

    /// <summary>Adds what the runtime files found in <paramref name="closure"/> open at run time.</summary>
    public static void Apply(IClosure closure, DotnetRuleOptions options, RuntimeConfig? config, Action<string> log)
    {
        ElfNode? FindShim(string name) => closure.Files.FirstOrDefault(n => Path.GetFileName(n.RootfsPath) == name);

        if (FindShim(GlobalizationShim) is { } globalization)
        {
            if (config?.InvariantGlobalization == true || options.InvariantGlobalization)
            {
                log("ICU left out: the app uses invariant globalization.");
            }
            else if (config?.AppLocalIcu == true)
            {
                log("ICU left out: the app carries its own (System.Globalization.AppLocalIcu).");
            }
            else
            {
                AddIcu(closure, globalization);
            }
        }

        if (FindShim(OpenSslShim) is { } openssl)
        {
            string? found = OpenSslNames.FirstOrDefault(name => closure.AddDlopen(name, openssl, $"OpenSSL for System.Security.Cryptography (dlopen {name} by {openssl.RootfsPath})"));
            if (found is null)
            {
                throw new OciBundleException(Strings.OpenSslNotFound, closure.Sysroot.Root, openssl.RootfsPath);
            }

            string crypto = found.Replace("libssl", "libcrypto", StringComparison.Ordinal);
            closure.AddDlopen(crypto, openssl, $"OpenSSL for System.Security.Cryptography (dlopen {crypto} by {openssl.RootfsPath})");
            AddCertificates(closure, closure.Sysroot);
        }

        if (options.IncludeGssapi && FindShim(GssapiShim) is { } gssapi)
        {
            if (!closure.AddDlopen("libgssapi_krb5.so.2", gssapi, $"GSSAPI for NegotiateAuthentication (dlopen by {gssapi.RootfsPath}; OciBundleIncludeGssapi)"))
            {
                throw new OciBundleException(Strings.GssapiNotFound, closure.Sysroot.Root);
            }
        }

        if (options.IncludeTimeZoneData && closure.Files.Any())
        {
            // right/ holds the leap-second variants of every zone: TimeZoneInfo never lists them, and they are half the files.
            if (closure.AddSysrootPath("/usr/share/zoneinfo", "time zone database for TimeZoneInfo (OciBundleIncludeTimeZoneData)", p => p == "/usr/share/zoneinfo/right") is null)
            {
                log("Time zone data left out: the sysroot has no /usr/share/zoneinfo.");
            }
        }
    }

    /// <summary>
    /// The globalization shim probes <c>libicuuc.so.N</c> from the highest major version down and loads the first
    /// it finds, then <c>libicui18n.so.N</c> of the same version; do the same against the sysroot.
    /// </summary>
    private static void AddIcu(IClosure closure, ElfNode shim)
    {
        IReadOnlyCollection<int> versions = closure.SonameVersions("libicuuc.so");
        foreach (int version in versions)
        {
            string uc = $"libicuuc.so.{version}";
            if (closure.AddDlopen(uc, shim, $"ICU for System.Globalization (dlopen {uc} by {shim.RootfsPath})"))
            {
                string i18n = $"libicui18n.so.{version}";
                if (!closure.AddDlopen(i18n, shim, $"ICU for System.Globalization (dlopen {i18n} by {shim.RootfsPath})"))
                {
                    throw new OciBundleException(Strings.IcuNotFound, shim.RootfsPath, $"{uc} is there but {i18n} is not");
                }

                return;
            }
        }

        throw new OciBundleException(Strings.IcuNotFound, shim.RootfsPath, "no libicuuc.so.N in the sysroot's library directories");
    }

    /// <summary>
    /// The CA certificates where .NET reads them: the bundle file (<c>/etc/ssl/certs/ca-certificates.crt</c>, and
    /// OpenSSL's default <c>/usr/lib/ssl/cert.pem</c> when the sysroot has it), and from the certificate directory
    /// every certificate the bundle file does not already hold (a local CA added by hand, say). .NET's root store is
    /// the union of file and directory, so this gives the app the host's set; the directory's hundreds of hash links
    /// and duplicates add nothing to it.
    /// </summary>
    private static void AddCertificates(IClosure closure, Sysroot sysroot)
    {
        const string reason = "CA certificates for TLS and X509Store (with OpenSSL)";
        string? bundleFile = closure.AddSysrootPath("/etc/ssl/certs/ca-certificates.crt", reason);
        closure.AddSysrootPath("/usr/lib/ssl/cert.pem", reason);
        string bundled = bundleFile is null ? "" : Normalize(File.ReadAllText(sysroot.HostPath(bundleFile)));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string dir in new[] { "/usr/lib/ssl/certs", "/etc/ssl/certs" })
        {
            ResolvedPath? resolved = sysroot.Resolve(dir);
            if (resolved is not { IsDirectory: true } || !seen.Add(resolved.RealPath))
            {
                continue;
            }

            sysroot.Inputs?.Listing(sysroot.HostPath(resolved.RealPath));
            foreach (string entry in Directory.EnumerateFileSystemEntries(sysroot.HostPath(resolved.RealPath)).Order(StringComparer.Ordinal))
            {
                string path = Sysroot.Join(resolved.RealPath, Path.GetFileName(entry));
                if (path == bundleFile || sysroot.Resolve(path) is not { IsDirectory: false } file || !seen.Add(file.RealPath))
                {
                    continue;
                }

                string text;
                try
                {
                    text = File.ReadAllText(sysroot.HostPath(file.RealPath));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    continue;
                }

                string pem = Normalize(text);
                if (pem.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal) && !bundled.Contains(pem, StringComparison.Ordinal))
                {
                    closure.AddSysrootLinks(resolved);
                    closure.AddSysrootPath(path, reason + "; only in the certificate directory");
                }
            }
        }
    }

    /// <summary>PEM text without line-end differences, for comparing a certificate file with the bundle.</summary>
    private static string Normalize(string pem) => pem.Replace("\r\n", "\n", StringComparison.Ordinal).Trim();
}

/// <summary>What the .NET rules take from the request: nothing else of it.</summary>
internal sealed record DotnetRuleOptions(bool InvariantGlobalization, bool IncludeGssapi, bool IncludeTimeZoneData);
