using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Rootfs;
using OciBundle.Testing;
using OciBundle.Model;
using OciBundle.Request;
using OciBundle.Planning;

namespace OciBundle.Tests;

/// <summary>What .NET opens with dlopen, keyed on the runtime's own shims (taken from the .NET running the tests).</summary>
[TestClass]
public sealed class DotnetRuntimeRulesTests
{
    private static string RuntimeDir => Path.GetDirectoryName(typeof(object).Assembly.Location)!;

    private static RootfsPlan Plan(TempDirectory dir, string[] shims, string runtimeConfig = """{"runtimeOptions":{"includedFrameworks":[]}}""", Action<BundleOptions>? change = null)
    {
        string publish = dir.Combine("publish-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(publish);
        foreach (string shim in shims)
        {
            string source = Path.Combine(RuntimeDir, shim);
            TestEnvironment.Require(File.Exists(source), $"{shim} in the .NET runtime running the tests");
            File.Copy(source, Path.Combine(publish, shim));
        }

        File.WriteAllText(Path.Combine(publish, "Hello"), "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(publish, "Hello"), (UnixFileMode)0b111_101_101); // an app host runc can execute
        File.WriteAllText(Path.Combine(publish, "Hello.runtimeconfig.json"), runtimeConfig);
        BundleOptions options = TargetDefaults.Options(publish, dir.Combine("bundle"), "Hello", "Hello");
        change?.Invoke(options);
        return BundlePlanner.Plan(Request.BundleRequest.Parse(options), _ => { }).Plan;
    }

    private static IEnumerable<string> Files(RootfsPlan plan, string name) =>
        plan.Entries.Where(e => e.Kind == RootfsEntryKind.File && Path.GetFileName(e.Path).StartsWith(name, StringComparison.Ordinal)).Select(e => e.Path);

    [TestMethod]
    public void IcuComesWithTheGlobalizationShimUnlessTheAppIsInvariant()
    {
        using var dir = new TempDirectory();
        RootfsPlan globalized = Plan(dir, new[] { "libSystem.Globalization.Native.so" });
        Assert.IsTrue(Files(globalized, "libicuuc.so.").Any() && Files(globalized, "libicui18n.so.").Any() && Files(globalized, "libicudata.so.").Any(), "ICU and its data");

        RootfsPlan invariant = Plan(dir, new[] { "libSystem.Globalization.Native.so" }, """{"runtimeOptions":{"includedFrameworks":[],"configProperties":{"System.Globalization.Invariant":true}}}""");
        Assert.IsFalse(Files(invariant, "libicu").Any());

        RootfsPlan byEnvironment = Plan(dir, new[] { "libSystem.Globalization.Native.so" }, change: o => o.Environment.Add(new("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")));
        Assert.IsFalse(Files(byEnvironment, "libicu").Any());
    }

    [TestMethod]
    public void OpenSslAndCertificatesComeWithTheCryptoShimOnly()
    {
        using var dir = new TempDirectory();
        RootfsPlan crypto = Plan(dir, new[] { "libSystem.Security.Cryptography.Native.OpenSsl.so" });
        Assert.IsTrue(Files(crypto, "libssl.so.").Any() && Files(crypto, "libcrypto.so.").Any());
        Assert.IsTrue(crypto.TryGet("/etc/ssl/certs/ca-certificates.crt", out _));

        RootfsPlan none = Plan(dir, new[] { "libSystem.Native.so" });
        Assert.IsFalse(Files(none, "libssl").Any());
        Assert.IsFalse(none.TryGet("/etc/ssl/certs/ca-certificates.crt", out _));
    }

    [TestMethod]
    public void GssapiOnlyWhenAskedFor()
    {
        using var dir = new TempDirectory();
        RootfsPlan without = Plan(dir, new[] { "libSystem.Net.Security.Native.so" });
        Assert.IsFalse(Files(without, "libgssapi_krb5").Any());

        TestEnvironment.Require(File.Exists("/usr/lib/x86_64-linux-gnu/libgssapi_krb5.so.2"), "libgssapi-krb5-2 on this machine");
        RootfsPlan with = Plan(dir, new[] { "libSystem.Net.Security.Native.so" }, change: o => o.IncludeGssapi = true);
        string gssapi = Files(with, "libgssapi_krb5.so.2").Single();
        Assert.IsTrue(with.TryGet(gssapi, out RootfsEntry entry) && entry.Reason.Contains("GSSAPI"), entry.Reason);
        Assert.IsTrue(Files(with, "libkrb5.so.").Any(), "with its closure");
    }

    [TestMethod]
    public void TimeZoneDataCanBeLeftOutAndNeverCarriesRight()
    {
        using var dir = new TempDirectory();
        RootfsPlan with = Plan(dir, new[] { "libSystem.Native.so" });
        Assert.IsTrue(with.TryGet("/usr/share/zoneinfo/Europe/Berlin", out _) || with.TryGet("/usr/share/zoneinfo/Europe", out _));
        Assert.IsFalse(with.Entries.Any(e => e.Path.StartsWith("/usr/share/zoneinfo/right", StringComparison.Ordinal)));

        RootfsPlan without = Plan(dir, new[] { "libSystem.Native.so" }, change: o => o.IncludeTimeZoneData = false);
        Assert.IsFalse(without.Entries.Any(e => e.Path.StartsWith("/usr/share/zoneinfo", StringComparison.Ordinal)));
    }
}
