using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// Issue 24: no setting publishes and then fails in runc. Every row of Limits.tsv is published for real and either
/// gives its code at publish or runs with runc and prints the app's line. The project is built once; one MSBuild
/// invocation then publishes every row in turn (a driver project calling Publish with NoBuild and the row's
/// properties) and runs each accepted bundle with runc right after it is written, before the next row replaces it.
/// </summary>
[TestClass]
public sealed partial class LimitsTests
{
    private const string AppLine = "Hello from an OCI bundle!";

    public TestContext TestContext { get; set; } = null!;

    /// <summary>One line of Limits.tsv.</summary>
    private sealed record Row(int Number, string Setting, string Value, string Expected, string With)
    {
        public bool Rootless => With.Contains("OciBundleRootless=true", StringComparison.Ordinal);

        public override string ToString() => $"line {Number}: {Setting} {Escape(Value)} -> {Expected}{(With.Length > 0 ? " with " + Escape(With) : "")}";
    }

    [GeneratedRegex(@"\{(\d+)\*(.)\}")]
    private static partial Regex Repeat();

    [GeneratedRegex(@"\\x([0-9a-fA-F]{2})")]
    private static partial Regex Hex();

    private static IReadOnlyList<Row> ReadRows()
    {
        var rows = new List<Row>();
        string[] lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Limits.tsv"));
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim().Length == 0 || lines[i].StartsWith('#'))
            {
                continue;
            }

            string[] f = lines[i].Split('\t');
            Assert.IsTrue(f.Length is 3 or 4, $"Limits.tsv line {i + 1}: setting, value, expected[, with]");
            string value = Repeat().Replace(f[1], m => new string(m.Groups[2].Value[0], int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)));
            value = Hex().Replace(value.Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\t", "\t", StringComparison.Ordinal), m => ((char)Convert.ToInt32(m.Groups[1].Value, 16)).ToString());
            string with = f.Length == 4 ? Repeat().Replace(f[3], m => new string(m.Groups[2].Value[0], int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))) : "";
            rows.Add(new Row(i + 1, f[0], value, f[2], with));
        }

        return rows;
    }

    /// <summary>The row as global properties: a property as it is, an item through the Limit* properties the project turns into that item.</summary>
    private static IEnumerable<(string Name, string Value)> PropertiesOf(Row row, (uint Uid, uint Gid) host)
    {
        string[] p = row.Value.Split('|');
        IEnumerable<(string, string)> own = row.Setting switch
        {
            "OciBundleRlimit" => new[] { ("LimitRlimit", p[0]), ("LimitSoft", p[1]), ("LimitHard", p[2]) },
            "OciBundleMount" => new[] { ("LimitMount", p[0]), ("LimitMountType", p[1]), ("LimitMountSource", p[2]), ("LimitMountOptions", p[3]) },
            "OciBundleFile" => new[] { ("LimitFile", p[0]), ("LimitFileTarget", p[1]) },
            "OciBundleArg" => new[] { ("LimitArg", row.Value) },
            "OciBundleEnvironmentVariable" => new[] { ("LimitEnv", p[0]), ("LimitEnvValue", p[1]) },
            _ => new[] { (row.Setting, row.Value) },
        };
        foreach ((string, string) property in own)
        {
            yield return property;
        }

        foreach (string extra in row.With.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            yield return (extra[..extra.IndexOf('=')], extra[(extra.IndexOf('=') + 1)..]);
        }

        if (row.Rootless)
        {
            yield return ("OciBundleHostUid", host.Uid.ToString(CultureInfo.InvariantCulture));
            yield return ("OciBundleHostGid", host.Gid.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>MSBuild's escaping for a value in the MSBuild task's Properties, written inside an XML attribute: anything but plain characters as %XX.</summary>
    private static string MsBuildEscape(string value) =>
        string.Concat(value.Select(c => char.IsAsciiLetterOrDigit(c) || "/._:+-,|=".Contains(c) ? c.ToString() : $"%{(int)c:X2}"));

    private static string Escape(string value) => string.Concat(value.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString())) is var e && e.Length > 60 ? e[..60] + "..." : e;

    private const string Items = """
        <OciBundleRlimit Include="$(LimitRlimit)" Soft="$(LimitSoft)" Hard="$(LimitHard)" Condition="'$(LimitRlimit)' != ''" />
        <OciBundleMount Include="$(LimitMount)" Type="$(LimitMountType)" Source="$(LimitMountSource)" Options="$(LimitMountOptions)" Condition="'$(LimitMount)' != ''" />
        <OciBundleFile Include="$(LimitFile)" TargetPath="$(LimitFileTarget)" Condition="'$(LimitFile)' != ''" />
        <OciBundleArg Include="program" Value="$(LimitArg)" Condition="'$(LimitArg)' != ''" />
        <OciBundleEnvironmentVariable Include="$(LimitEnv)" Value="$(LimitEnvValue)" Condition="'$(LimitEnv)' != ''" />
        <OciBundleEnvironmentVariable Include="LIMIT_SECOND" Value="$(LimitSecondEnvValue)" Condition="'$(LimitSecondEnvValue)' != ''" />
        """;

    [TestMethod]
    public void EveryValueAtAndPastItsLimitGivesItsCodeAtPublishOrRunsInRunc()
    {
        (uint, uint) host = Runc.RequireRootlessUser();
        IReadOnlyList<Row> rows = ReadRows();
        using TestProject project = TestProject.WithSdkElement(
            "Limits",
            "<InvariantGlobalization>true</InvariantGlobalization><OciBundleSbom>false</OciBundleSbom><OciBundleIncludeTimeZoneData>false</OciBundleIncludeTimeZoneData>",
            Items);
        File.WriteAllText(Path.Combine(project.Directory, "extra.txt"), "an OciBundleFile\n");
        Runc.OpenUpFor(project.Directory);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        project.Publish("-p:PublishOciBundle=true"); // builds once; every row then publishes with NoBuild
        TimeSpan build = clock.Elapsed;

        string script = Path.Combine(project.Directory, "run-row.sh");
        File.WriteAllText(script, $$"""
            #!/bin/sh
            # Runs the bundle of one row with runc (as root, or as {{Runc.RootlessUser}} for a rootless one) and prints what it said.
            row=$1; bundle=$2; rootless=$3; id=ocib-limits-$row-$$; state=/tmp/$id
            if [ "$rootless" = true ]; then
              out=$(runuser -u {{Runc.RootlessUser}} -- runc --root "$state" run --bundle "$bundle" "$id" 2>&1 </dev/null); rc=$?
              runuser -u {{Runc.RootlessUser}} -- runc --root "$state" delete --force "$id" >/dev/null 2>&1
            else
              out=$(runc --root "$state" run --bundle "$bundle" "$id" 2>&1 </dev/null); rc=$?
              runc --root "$state" delete --force "$id" >/dev/null 2>&1
            fi
            rm -rf "$state"
            printf 'LIMITS-RUN %s rc=%s\n%s\nLIMITS-RUN-END %s\n' "$row" "$rc" "$out" "$row"
            """);

        var driver = new StringBuilder("<Project>\n  <ItemGroup>\n");
        foreach (Row row in rows)
        {
            string properties = string.Join(";", PropertiesOf(row, host).Select(p => $"{p.Name}={MsBuildEscape(p.Value)}"));
            driver.Append(CultureInfo.InvariantCulture, $"    <Row Include=\"{row.Number}\" Properties=\"{properties}\" Rootless=\"{row.Rootless.ToString().ToLowerInvariant()}\" />\n");
        }

        driver.Append($$"""
              </ItemGroup>
              <Target Name="Rows" Outputs="%(Row.Identity)">
                <Message Importance="high" Text="LIMITS-ROW %(Row.Identity) BEGIN" />
                <MSBuild Projects="Limits.csproj" Targets="Publish" Properties="Configuration=Release;NoBuild=true;PublishOciBundle=true;%(Row.Properties)" ContinueOnError="true" />
                <PropertyGroup><_Published>$(MSBuildLastTaskResult)</_Published></PropertyGroup>
                <Message Importance="high" Text="LIMITS-ROW %(Row.Identity) PUBLISHED $(_Published)" />
                <Exec Condition="'$(_Published)' == 'true'" Command="sh run-row.sh %(Row.Identity) {{project.BundleDir}} %(Row.Rootless)" EchoOff="true" StandardOutputImportance="high" StandardErrorImportance="high" Timeout="120000" ContinueOnError="true" />
                <Message Importance="high" Text="LIMITS-ROW %(Row.Identity) END" />
              </Target>
            </Project>
            """);
        File.WriteAllText(Path.Combine(project.Directory, "limits.proj"), driver.ToString());

        ProcessResult all = project.Dotnet("msbuild", "limits.proj", "-t:Rows", "-v:m", "-m:1", "-clp:NoSummary");
        TimeSpan table = clock.Elapsed - build;
        string log = all.Output + all.Error;

        var failures = new List<string>();
        var limited = new List<string>();
        foreach (Row row in rows)
        {
            string? problem = Judge(row, Section(log, row.Number));
            if (problem == LimitedHere)
            {
                limited.Add(row.ToString());
            }
            else if (problem is not null)
            {
                failures.Add($"{row}: {problem}");
            }
        }

        TestContext.WriteLine($"{rows.Count} rows ({rows.Count(r => r.Expected == "runs")} run with runc) in {table.TotalSeconds:F0} s, after building the project once in {build.TotalSeconds:F0} s.");
        TestContext.WriteLine($"Accepted, and refused by this machine's runc only for want of CAP_SYS_RESOURCE: {(limited.Count == 0 ? "none" : string.Join("; ", limited))}");
        Assert.AreEqual(0, failures.Count, string.Join("\n", failures) + "\n\n" + log);
    }

    /// <summary>What the log says between a row's markers.</summary>
    private static string Section(string log, int row)
    {
        int begin = log.IndexOf($"LIMITS-ROW {row} BEGIN", StringComparison.Ordinal);
        int end = log.IndexOf($"LIMITS-ROW {row} END", StringComparison.Ordinal);
        return begin < 0 || end < begin ? "" : log[begin..end];
    }

    /// <summary>Null when the row did what it says; <see cref="LimitedHere"/>; else what happened.</summary>
    private static string? Judge(Row row, string section)
    {
        if (section.Length == 0)
        {
            return "the driver never reached it";
        }

        var codes = Regex.Matches(section, @"error (OCIB\d{4}):").Select(m => m.Groups[1].Value).Distinct().ToList();
        bool published = section.Contains($"PUBLISHED true", StringComparison.Ordinal);
        if (row.Expected != "runs")
        {
            return codes.SequenceEqual(new[] { row.Expected }) && !published ? null : $"gave {(published ? "a bundle" : string.Join(", ", codes))}\n{section}";
        }

        if (!published)
        {
            return $"was refused ({string.Join(", ", codes)})\n{section}";
        }

        Match run = Regex.Match(section, @"LIMITS-RUN \d+ rc=(\d+)\n(.*)\n\s*LIMITS-RUN-END", RegexOptions.Singleline);
        if (!run.Success)
        {
            return $"did not run\n{section}";
        }

        string output = run.Groups[2].Value;
        if (output.Contains(AppLine, StringComparison.Ordinal))
        {
            return null;
        }

        return RaisesAHardLimitRuncMayNot(row, output) ? LimitedHere : $"runc: rc {run.Groups[1].Value}\n{output}";
    }

    /// <summary>What <see cref="Judge"/> says of a row runc here may not run for want of CAP_SYS_RESOURCE (reported, not failed).</summary>
    private const string LimitedHere = "limited here";

    /// <summary>
    /// A limit above runc's own hard limit needs CAP_SYS_RESOURCE, which a container build machine's root may lack (this
    /// one's does): then runc fails with setrlimit's EPERM whatever the value, and only that failure is accepted.
    /// </summary>
    private static bool RaisesAHardLimitRuncMayNot(Row row, string output)
    {
        if (row.Setting != "OciBundleRlimit" || !output.Contains("error setting rlimit type", StringComparison.Ordinal) || !output.Contains("operation not permitted", StringComparison.Ordinal))
        {
            return false;
        }

        string capEff = File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("CapEff:", StringComparison.Ordinal)).Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1];
        bool sysResource = (ulong.Parse(capEff, NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << 24)) != 0;
        string name = row.Value.Split('|')[0].Replace("RLIMIT_", "", StringComparison.Ordinal) switch
        {
            "CPU" => "Max cpu time", "FSIZE" => "Max file size", "DATA" => "Max data size", "STACK" => "Max stack size",
            "CORE" => "Max core file size", "RSS" => "Max resident set", "NPROC" => "Max processes", "NOFILE" => "Max open files",
            "MEMLOCK" => "Max locked memory", "AS" => "Max address space", "LOCKS" => "Max file locks", "SIGPENDING" => "Max pending signals",
            "MSGQUEUE" => "Max msgqueue size", "NICE" => "Max nice priority", "RTPRIO" => "Max realtime priority", "RTTIME" => "Max realtime timeout",
            _ => "?",
        };
        string? limits = File.ReadAllLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal));
        ulong ownHard = limits is null ? ulong.MaxValue : limits[25..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] is var h && h == "unlimited" ? ulong.MaxValue : ulong.Parse(h, CultureInfo.InvariantCulture);
        string hard = row.Value.Split('|')[2];
        return !sysResource && hard != "unlimited" && ulong.Parse(hard, CultureInfo.InvariantCulture) > ownHard;
    }
}
