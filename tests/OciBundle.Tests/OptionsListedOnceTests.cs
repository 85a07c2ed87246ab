using System.Reflection;
using System.Xml.Linq;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Request;
using OciBundle.State;
using OciBundle.Tasks;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// An option is written in a few places (the targets' default and task call, the task's parameter, the engine's
/// options, README); these tests fail the moment one of them is left out: a parameter no task call passes, a
/// parameter the task does not copy into the engine's options, an engine option no parameter fills, a property the
/// targets pass that README does not list. And every list property is split by the one rule of <see cref="OptionList"/>.
/// </summary>
[TestClass]
public sealed class OptionsListedOnceTests
{
    private static readonly Type[] TaskTypes = typeof(BuildOciContainer).Assembly.GetTypes()
        .Where(t => typeof(ITask).IsAssignableFrom(t) && !t.IsAbstract && t.IsPublic).ToArray();

    /// <summary>The parameters a task takes: public settable properties it declares, outputs aside.</summary>
    private static PropertyInfo[] Inputs(Type task) => task.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
        .Where(p => p.SetMethod is { IsPublic: true } && p.GetCustomAttribute<OutputAttribute>() is null).ToArray();

    /// <summary>Every call of a task in the SDK's targets files, as its attributes.</summary>
    private static IEnumerable<(string File, XElement Call)> Calls(string taskName) =>
        Directory.GetFiles(Path.Combine(TestEnvironment.RepoRoot, "sdk"), "*.targets", SearchOption.AllDirectories)
            .SelectMany(f => XDocument.Load(f).Descendants().Where(e => e.Name.LocalName == taskName).Select(e => (Path.GetFileName(f), e)));

    [TestMethod]
    public void EveryParameterOfEveryTaskIsPassedByTheTargets()
    {
        Assert.IsTrue(TaskTypes.Length >= 10, string.Join(", ", TaskTypes.Select(t => t.Name)));
        foreach (Type task in TaskTypes)
        {
            var calls = Calls(task.Name).ToList();
            Assert.IsTrue(calls.Count > 0, $"{task.Name}: no target calls it");
            var passed = calls.SelectMany(c => c.Call.Attributes().Select(a => a.Name.LocalName)).ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (PropertyInfo parameter in Inputs(task))
            {
                Assert.IsTrue(passed.Contains(parameter.Name), $"{task.Name}.{parameter.Name} is a parameter no call in sdk/build passes: pass it, or remove it");
            }
        }
    }

    /// <summary>A value of a parameter's type that no default gives, distinct per parameter.</summary>
    private static object Probe(PropertyInfo parameter, object task) => parameter.PropertyType switch
    {
        Type t when t == typeof(bool) => !(bool)parameter.GetValue(task)!,
        Type t when t == typeof(ITaskItem[]) => new ITaskItem[]
        {
            new TaskItem("/probe/" + parameter.Name, new Dictionary<string, string>
            {
                ["Value"] = "v-" + parameter.Name, ["TargetPath"] = "/t/" + parameter.Name, ["Type"] = "bind", ["Source"] = "/s",
                ["Options"] = "ro", ["Soft"] = "1", ["Hard"] = "2", ["DestinationSubPath"] = "d/" + parameter.Name,
                ["NuGetPackageVersion"] = "1.0.0", ["Mode"] = "0644",
            }),
        },
        Type t when t == typeof(string[]) => new[] { "/probe/" + parameter.Name },
        Type t when t == typeof(string) => "probe-" + parameter.Name,
        Type t => throw new AssertFailedException($"{parameter.DeclaringType!.Name}.{parameter.Name}: teach Probe a {t.Name}"),
    };

    /// <summary>Each option's canonical text (<see cref="RequestKey"/>'s), by name.</summary>
    private static Dictionary<string, string> Values(object options) => options.GetType().GetProperties()
        .ToDictionary(p => p.Name, p => RequestKey.Text(p.GetValue(options)));

    private static void EveryParameterReachesTheOptions<TTask>(Func<TTask> make, Func<TTask, object> toOptions, params string[] notOptions)
    {
        Dictionary<string, string> baseline = Values(toOptions(make()));
        var filled = new HashSet<string>();
        foreach (PropertyInfo parameter in Inputs(typeof(TTask)).Where(p => !notOptions.Contains(p.Name)))
        {
            TTask task = make();
            parameter.SetValue(task, Probe(parameter, task!));
            var changed = Values(toOptions(task)).Where(v => baseline[v.Key] != v.Value).Select(v => v.Key).ToList();
            Assert.IsTrue(changed.Count > 0, $"{typeof(TTask).Name}.{parameter.Name} does not reach the engine's options: copy it in ToOptions");
            filled.UnionWith(changed);
        }

        foreach (string option in baseline.Keys)
        {
            Assert.IsTrue(filled.Contains(option), $"the engine option {option} is filled by no parameter of {typeof(TTask).Name}");
        }
    }

    [TestMethod]
    public void EveryParameterOfTheBundleTaskReachesTheEngineAndEveryEngineOptionHasAParameter() =>
        EveryParameterReachesTheOptions(
            TargetDefaults.Task,
            t => t.ToOptions(),
            nameof(BuildOciContainer.StateFile)); // the task hands it to BundleBuilder.Build itself: where the engine's state lives

    [TestMethod]
    public void EveryParameterOfThePushTaskReachesTheEngine() =>
        EveryParameterReachesTheOptions(
            () => new PushOciImage(),
            t => t.ToOptions(),
            nameof(PushOciImage.AppName)); // only names the project in the task's own lines

    [TestMethod]
    public void EveryPublicPropertyTheBundleAndPushCallsPassIsInTheReadme()
    {
        string readme = File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "README.md"));
        var missing = new List<string>();
        foreach (string task in new[] { nameof(BuildOciContainer), nameof(PushOciImage) })
        {
            foreach ((string file, XElement call) in Calls(task))
            {
                foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(
                    string.Concat(call.Attributes().Select(a => a.Value)), @"[$@]\((Oci[A-Za-z]+)\)"))
                {
                    if (!readme.Contains("`" + m.Groups[1].Value + "`", StringComparison.Ordinal))
                    {
                        missing.Add($"{m.Groups[1].Value} ({file})");
                    }
                }
            }
        }

        Assert.AreEqual(0, missing.Count, "README's reference does not list: " + string.Join(", ", missing.Distinct()));
    }

    [TestMethod]
    [DataRow("a;b", "a|b")]
    [DataRow("a,b", "a|b")]
    [DataRow(" a ; ;b,, ", "a|b")]
    [DataRow("", "")]
    [DataRow("with space;x", "with space|x")]
    public void AListIsSplitOnSemicolonsAndCommasTrimmedWithoutEmptyValues(string list, string expected) =>
        Assert.AreEqual(expected, string.Join("|", OptionList.Split(list)));

    [TestMethod]
    public void EveryListPropertyOfTheTasksIsSplitByTheOneRule()
    {
        BuildOciContainer task = TargetDefaults.Task();
        task.ImageTags = "1.0, latest";
        task.InsecureRegistries = "127.0.0.1:5000,localhost:5001";
        task.Capabilities = "CAP_CHOWN, CAP_KILL";
        task.RootCapabilities = "CAP_CHOWN,CAP_KILL";
        task.MaskedPaths = "/proc/kcore, /proc/keys";
        task.ReadonlyPaths = "/proc/bus,/proc/fs";
        task.Mounts = new ITaskItem[] { new TaskItem("/data", new Dictionary<string, string> { ["Type"] = "bind", ["Source"] = "/srv", ["Options"] = "rbind; ro,nosuid" }) };
        BundleOptions options = task.ToOptions();
        Assert.AreEqual("1.0|latest", string.Join("|", options.ImageTags));
        Assert.AreEqual("127.0.0.1:5000|localhost:5001", string.Join("|", options.InsecureRegistries));
        Assert.AreEqual("CAP_CHOWN|CAP_KILL", string.Join("|", options.Capabilities!));
        Assert.AreEqual("CAP_CHOWN|CAP_KILL", string.Join("|", options.RootCapabilities!));
        Assert.AreEqual("/proc/kcore|/proc/keys", string.Join("|", options.MaskedPaths));
        Assert.AreEqual("/proc/bus|/proc/fs", string.Join("|", options.ReadonlyPaths));
        Assert.AreEqual("rbind|ro|nosuid", string.Join("|", options.Mounts[0].Options));

        var push = new PushOciImage { Tags = "1.0;latest, edge", InsecureRegistries = "a:1;b:2" };
        Assert.AreEqual("1.0|latest|edge", string.Join("|", push.ToOptions().Tags));
        Assert.AreEqual("a:1|b:2", string.Join("|", push.ToOptions().InsecureRegistries));
    }
}
