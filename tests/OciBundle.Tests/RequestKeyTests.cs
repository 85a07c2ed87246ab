using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Model;
using OciBundle.Request;
using OciBundle.State;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// The up-to-date key is written from the request's typed values: a change in any field, collections and the
/// records inside them included, gives another key, so a publish after it is never taken as up to date.
/// </summary>
[TestClass]
public sealed class RequestKeyTests
{
    private static TempDirectory _dir = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _dir = new TempDirectory();
        Directory.CreateDirectory(_dir.Combine("proj", "bin", "publish"));
        Directory.CreateDirectory(_dir.Combine("proj", "obj"));
        Directory.CreateDirectory(_dir.Combine("data"));
        File.WriteAllText(_dir.Combine("settings.json"), "{}\n");
    }

    [ClassCleanup]
    public static void Cleanup() => _dir.Dispose();

    /// <summary>A request with something in every list the options can fill.</summary>
    private static BundleRequest Rich()
    {
        BundleOptions options = TargetDefaults.Options(_dir.Combine("proj", "bin", "publish"), _dir.Combine("proj", "bin", "oci-bundle"), "Hello");
        options.ProjectDirectory = _dir.Combine("proj");
        options.RuntimeIdentifier = "linux-x64";
        options.ProtectedDirectories = new List<string> { _dir.Combine("proj", "obj"), _dir.Combine("proj", "bin") };
        options.Args = new List<string> { "/app/Hello", "--serve" };
        options.AppArgs = new List<string> { "--verbose" };
        options.Environment = new List<KeyValuePair<string, string>> { new("MODE", "prod") };
        options.Mounts = new List<MountOption> { new() { Destination = "/data", Type = "bind", Source = _dir.Combine("data"), Options = new List<string> { "rbind", "rw" } } };
        options.Files = new List<FileOption> { new() { Source = _dir.Combine("settings.json"), TargetPath = "/etc/hello/settings.json" } };
        options.Rlimits = new List<RlimitOption> { new() { Type = "RLIMIT_NOFILE", Soft = "1024", Hard = "4096" } };
        options.RuntimePacks = new List<KeyValuePair<string, string>> { new("Microsoft.NETCore.App.Runtime.linux-x64", "10.0.0") };
        options.ImageDirectory = _dir.Combine("proj", "bin", "oci-image");
        options.ImageLabels = new Dictionary<string, string> { ["org.example.team"] = "core" };
        options.ImagePorts = new List<string> { "8080" };
        options.ImageDefaultArgs = new List<string> { "--port", "8080" };
        options.Volumes = new List<VolumeOption> { new() { Path = "/var/lib/hello" } };
        return BundleRequest.Parse(options);
    }

    private static string KeyOf(BundleRequest r) => BundleBuilder.KeyOf(r);

    [TestMethod]
    public void EveryFieldOfTheRequestChangesTheKeyCollectionsAndTheirItemsIncluded()
    {
        BundleRequest request = Rich();
        string key = KeyOf(request);
        Assert.AreEqual(key, KeyOf(Rich()), "the same options, the same key");

        var changed = new List<string>();
        foreach ((string path, BundleRequest mutated) in Mutations(request, "request"))
        {
            Assert.AreNotEqual(key, KeyOf(mutated), $"a change of {path} left the key as it was");
            changed.Add(path);
        }

        // The walk reached the lists and the records inside them, not only the top-level scalars.
        foreach (string expected in new[]
        {
            "request.Process.Args", "request.Process.Environment", "request.Process.Rlimits[0].Soft",
            "request.Process.Capabilities.Bounding", "request.Isolation.Mounts", "request.Isolation.Mounts[0].Options",
            "request.Isolation.MaskedPaths", "request.Content.Files[0].TargetPath", "request.Content.RuntimePacks",
            "request.Output.Image.Labels", "request.Output.Image.Ports", "request.Output.Image.DefaultArgs", "request.Volumes", "request.Volumes[0].Path",
        })
        {
            CollectionAssert.Contains(changed, expected, "not reached: " + string.Join(", ", changed));
        }
    }

    private sealed record Holder(List<string> Names, Dictionary<string, string> Labels);

    [TestMethod]
    public void AListOrDictionaryIsKeyedByItsItemsWhereToStringWouldNameOnlyItsType()
    {
        var a = new Holder(new List<string> { "a" }, new Dictionary<string, string> { ["k"] = "1", ["j"] = "2" });
        var b = new Holder(new List<string> { "b" }, new Dictionary<string, string> { ["j"] = "2", ["k"] = "1" });
        Assert.AreEqual(a.ToString().Replace("\"a\"", "", StringComparison.Ordinal), b.ToString(), "a record's ToString names a List's type, not its items: the old key missed this");
        Assert.AreNotEqual(RequestKey.Text(a), RequestKey.Text(b));
        Assert.AreEqual("Holder { Names = [\"a\"]; Labels = {\"j\": \"2\", \"k\": \"1\"}; }", RequestKey.Text(a), "dictionaries in key order");
        Assert.AreEqual(RequestKey.Text(a with { Names = new List<string> { "b" } }), RequestKey.Text(b), "the same pairs in another order: the same key");
    }

    [TestMethod]
    public void StringsAreQuotedSoNoValueCanForgeAnother()
    {
        Assert.AreNotEqual(RequestKey.Text(new[] { "a, b" }), RequestKey.Text(new[] { "a", "b" }));
        Assert.AreEqual("[\"a\\\", \\\"b\", \"\\u000a\"]", RequestKey.Text(new[] { "a\", \"b", "\n" }));
    }

    private sealed record WithDelegate(Func<int> Make);

    [TestMethod]
    public void AValueItCannotSpellThrowsInsteadOfBeingKeyedByItsName()
    {
        Assert.ThrowsExactly<InvalidOperationException>(() => RequestKey.Text(new WithDelegate(() => 1)));
        Assert.ThrowsExactly<InvalidOperationException>(() => RequestKey.Text(new object()));
    }

    /// <summary>Every way to change one field of <paramref name="value"/> (a record), with the field's path.</summary>
    private static IEnumerable<(string Path, T Changed)> Mutations<T>(T value, string path) where T : class
    {
        foreach (PropertyInfo property in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.SetMethod is null || property.Name == "Warnings" || property.GetIndexParameters().Length > 0)
            {
                continue; // computed from the others, or not part of the key (warnings are reported, not built)
            }

            object? current = property.GetValue(value);
            string at = path + "." + property.Name;
            foreach ((string p, object? changed) in Changes(property.PropertyType, current, at))
            {
                yield return (p, With(value, property, changed));
            }
        }
    }

    private static IEnumerable<(string Path, object? Changed)> Changes(Type type, object? current, string path)
    {
        if (Leaf(type, current) is { } leaf)
        {
            yield return (path, leaf);
        }
        else if (current is IEnumerable items and not string)
        {
            Type item = ElementType(type);
            object?[] list = items.Cast<object?>().ToArray();
            yield return (path, Rebuild(type, item, list.Length > 0 ? list[..^1] : list.Append(Sample(item)).ToArray()));
            for (int i = 0; i < list.Length; i++)
            {
                if (Leaf(item, list[i]) is null && list[i] is { } record && record is not IEnumerable)
                {
                    foreach ((string p, object? changed) in Mutations(record, $"{path}[{i}]"))
                    {
                        object?[] copy = (object?[])list.Clone();
                        copy[i] = changed;
                        yield return (p, Rebuild(type, item, copy));
                    }
                }
            }
        }
        else if (current is not null)
        {
            foreach ((string p, object changed) in Mutations(current, path))
            {
                yield return (p, changed);
            }
        }
        else
        {
            yield return (path, RuntimeHelpers.GetUninitializedObject(Nullable.GetUnderlyingType(type) ?? type));
        }
    }

    /// <summary>Another value of a scalar (string, number, bool, enum), or null when it is not one.</summary>
    private static object? Leaf(Type type, object? current)
    {
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        return t switch
        {
            _ when t == typeof(string) => (string?)current + "x",
            _ when t == typeof(bool) => current is not true,
            _ when t.IsEnum => Enum.ToObject(t, Convert.ToInt64(current ?? 0, System.Globalization.CultureInfo.InvariantCulture) + 1),
            _ when t.IsPrimitive => Step(t, Convert.ToDecimal(current ?? 0, System.Globalization.CultureInfo.InvariantCulture)),
            _ => null,
        };
    }

    private static object Step(Type type, decimal n)
    {
        try
        {
            return Convert.ChangeType(n + 1, type, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (OverflowException)
        {
            return Convert.ChangeType(n - 1, type, System.Globalization.CultureInfo.InvariantCulture); // the type's largest value
        }
    }

    private static object? Sample(Type item) =>
        item == typeof(string) ? "probe"
        : item == typeof(KeyValuePair<string, string>) ? new KeyValuePair<string, string>("PROBE", "1")
        : RuntimeHelpers.GetUninitializedObject(item);

    private static Type ElementType(Type collection) =>
        (collection.IsGenericType && collection.GetGenericTypeDefinition() == typeof(IEnumerable<>) ? collection
            : collection.GetInterfaces().First(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>)))
        .GetGenericArguments()[0];

    /// <summary>A collection of the field's declared type holding <paramref name="items"/>.</summary>
    private static object Rebuild(Type declared, Type item, object?[] items)
    {
        Array array = Array.CreateInstance(item, items.Length);
        Array.Copy(items, array, items.Length);
        if (declared.IsAssignableFrom(array.GetType()))
        {
            return array;
        }

        if (item == typeof(KeyValuePair<string, string>) && declared.IsAssignableFrom(typeof(Map)))
        {
            return new Map(array.Cast<KeyValuePair<string, string>>());
        }

        if (declared.IsAssignableFrom(typeof(Dictionary<string, string>)) && item == typeof(KeyValuePair<string, string>))
        {
            return array.Cast<KeyValuePair<string, string>>().ToDictionary(p => p.Key, p => p.Value);
        }

        Type? set = typeof(HashSet<>).MakeGenericType(item);
        if (declared.IsAssignableFrom(set))
        {
            return Activator.CreateInstance(set, array)!;
        }

        return declared.GetConstructor(new[] { typeof(IEnumerable<>).MakeGenericType(item) }) is { } make
            ? make.Invoke(new object[] { array })
            : throw new AssertFailedException($"the test cannot make a {declared}: teach Rebuild this collection type");
    }

    /// <summary>A copy of the record with one property changed (through its init accessor).</summary>
    private static T With<T>(T record, PropertyInfo property, object? value) where T : class
    {
        MethodInfo clone = record.GetType().GetMethod("<Clone>$") ?? throw new AssertFailedException($"{record.GetType().Name} is not a record");
        var copy = (T)clone.Invoke(record, null)!;
        property.SetValue(copy, value);
        return copy;
    }
}
