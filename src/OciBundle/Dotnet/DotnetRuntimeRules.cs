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
    private const string Zoneinfo = "/usr/share/zoneinfo";

    // The OpenSSL shim tries these sonames in this order (dotnet/runtime opensslshim.c).
    private static readonly string[] OpenSslNames = { "libssl.so.3", "libssl.so.1.1", "libssl.so.1.0.2", "libssl.so.1.0.0", "libssl.so.10" };

    /// <summary>
    /// Adds what the runtime files found in <paramref name="closure"/> open at run time; <paramref name="packages"/> is
    /// the sysroot's dpkg database, read at most once per plan (null when it has none).
    /// </summary>
    public static void Apply(IClosure closure, DotnetRuleOptions options, RuntimeConfig? config, Lazy<PackageDatabase?> packages, Action<string> log)
    {
        ElfNode? FindShim(string name) => closure.Files.FirstOrDefault(n => Path.GetFileName(n.RootfsPath) == name);

        // A Native AOT executable links the shims in: it opens what they would open, so it stands in for each of them.
        NativeAot? aot = FindShim(GlobalizationShim) is null && FindShim(OpenSslShim) is null && FindShim("libcoreclr.so") is null ? NativeAot.Find(closure, options.EntryExecutable) : null;
        if (aot is not null)
        {
            log($"{aot.Executable.RootfsPath} carries the runtime's native shims itself (Native AOT, or a single-file app): it opens {string.Join(", ", new[] { aot.Icu ? "ICU" : null, aot.OpenSsl ? "OpenSSL" : null, aot.Gssapi ? "GSSAPI" : null }.OfType<string>().DefaultIfEmpty("none of ICU, OpenSSL, GSSAPI"))} itself.");
        }

        if ((FindShim(GlobalizationShim) ?? (aot is { Icu: true } ? aot.Executable : null)) is { } globalization)
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

        if ((FindShim(OpenSslShim) ?? (aot is { OpenSsl: true } ? aot.Executable : null)) is { } openssl)
        {
            string? found = OpenSslNames.FirstOrDefault(name => closure.AddDlopen(name, openssl, $"OpenSSL for System.Security.Cryptography (dlopen {name} by {openssl.RootfsPath})"));
            if (found is null)
            {
                throw new OciBundleException(Strings.OpenSslNotFound, closure.Sysroot.Root, openssl.RootfsPath);
            }

            string crypto = found.Replace("libssl", "libcrypto", StringComparison.Ordinal);
            closure.AddDlopen(crypto, openssl, $"OpenSSL for System.Security.Cryptography (dlopen {crypto} by {openssl.RootfsPath})");
            AddCertificates(closure);
        }

        if (options.IncludeGssapi && (FindShim(GssapiShim) ?? (aot is { Gssapi: true } ? aot.Executable : null)) is { } gssapi)
        {
            if (!closure.AddDlopen("libgssapi_krb5.so.2", gssapi, $"GSSAPI for NegotiateAuthentication (dlopen by {gssapi.RootfsPath}; OciBundleIncludeGssapi)"))
            {
                throw new OciBundleException(Strings.GssapiNotFound, closure.Sysroot.Root);
            }
        }

        if (options.IncludeTimeZoneData && closure.Files.Any())
        {
            AddTimeZoneData(closure, packages.Value, log);
        }
    }

    /// <summary>
    /// The sysroot's time zone database (<c>OciBundleIncludeTimeZoneData</c>): only what a package installed (tzdata),
    /// checked against <paramref name="database"/> (the sysroot's dpkg database; null when it has none).
    /// </summary>
    private static void AddTimeZoneData(IClosure closure, PackageDatabase? database, Action<string> log)
    {
        // right/ holds the leap-second variants of every zone: TimeZoneInfo never lists them, and they are half the files.
        // Of the rest, only what a package installed (tzdata): a file the build machine added there is not the distribution's.
        var unowned = new List<string>();
        bool Exclude(string path)
        {
            if (path == Zoneinfo + "/right")
            {
                return true;
            }

            if (database is null || database.OwnerOf(path) is not null)
            {
                return false;
            }

            unowned.Add(path);
            return true;
        }

        if (closure.AddSysrootData(Zoneinfo, "time zone database for TimeZoneInfo (OciBundleIncludeTimeZoneData)", Exclude) is null)
        {
            log("Time zone data left out: the sysroot has no /usr/share/zoneinfo.");
        }
        else if (database is null)
        {
            log("Time zone data: taken whole, with no package owner checked (the sysroot has no dpkg database).");
        }
        else if (unowned.Count > 0)
        {
            log($"Left out of the time zone data, as no package of the sysroot owns them: {string.Join(", ", unowned.Take(5))}{(unowned.Count > 5 ? $" and {unowned.Count - 5} more" : "")}. Add one you need with an OciBundleFile item.");
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
    /// The CA certificates where .NET and OpenSSL read them: the sysroot's CA bundle
    /// (<c>/etc/ssl/certs/ca-certificates.crt</c>, and OpenSSL's default <c>/usr/lib/ssl/cert.pem</c>, a link to it, when
    /// the sysroot has it), nothing else. <c>update-ca-certificates</c> builds that file from the distribution's roots
    /// and the local CAs an administrator added, so it is the trust store the machine chose; the certificate
    /// directory also holds files no package made (Debian's <c>ssl-cert-snakeoil.pem</c>, self-signed, its key on the
    /// build machine), which must not become roots of every app. A certificate the app needs beyond the bundle is
    /// named with an <c>OciBundleFile</c> item.
    /// </summary>
    private static void AddCertificates(IClosure closure)
    {
        const string reason = "CA certificates for TLS and X509Store (the sysroot's CA bundle, built by update-ca-certificates)";
        closure.AddSysrootData("/etc/ssl/certs/ca-certificates.crt", reason);
        closure.AddSysrootData("/usr/lib/ssl/cert.pem", reason);
    }
}

/// <summary>
/// A Native AOT executable of the app and which of the runtime's native shims it carries, recognised by the shims' own
/// strings rather than by file names: the globalization shim's ICU probe (<c>libicuuc.so</c> and <c>libicui18n.so</c>),
/// the OpenSSL shim's soname list (<c>libssl.so.3</c> and <c>libssl.so.1.1</c>), the security shim's GSSAPI library.
/// Looked for only in the app's own executable, and only when the app has no CoreCLR and no shim library, so a JIT
/// app's files are never read for it and another program that names those libraries is never taken for the app.
/// </summary>
internal sealed record NativeAot(ElfNode Executable, bool Icu, bool OpenSsl, bool Gssapi)
{
    private const long MaxScannedBytes = 1L << 30;

    public static NativeAot? Find(IClosure closure, string entryExecutable)
    {
        foreach (ElfNode node in closure.Files.Where(n => n.RootfsPath == entryExecutable && n.File.Interpreter is not null))
        {
            byte[] bytes;
            try
            {
                if (new FileInfo(node.HostPath).Length > MaxScannedBytes)
                {
                    continue;
                }

                bytes = File.ReadAllBytes(node.HostPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            bool Has(string text) => bytes.AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(text)) >= 0;
            bool icu = Has("libicuuc.so") && Has("libicui18n.so");
            bool openssl = Has("libssl.so.3") && Has("libssl.so.1.1");
            bool gssapi = Has("libgssapi_krb5.so.2");
            if (icu || openssl || gssapi)
            {
                return new NativeAot(node, icu, openssl, gssapi);
            }
        }

        return null;
    }
}

/// <summary>What the .NET rules take from the request: nothing else of it.</summary>
/// <param name="InvariantGlobalization">The environment asks for invariant globalization: no ICU.</param>
/// <param name="IncludeGssapi"><c>OciBundleIncludeGssapi</c>.</param>
/// <param name="IncludeTimeZoneData"><c>OciBundleIncludeTimeZoneData</c>.</param>
/// <param name="EntryExecutable">The app's own executable in rootfs (its app host, or its name): the one file a Native AOT app's shims can be in.</param>
internal sealed record DotnetRuleOptions(bool InvariantGlobalization, bool IncludeGssapi, bool IncludeTimeZoneData, string EntryExecutable);
