using System.Reflection;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json;
using OciBundle.Model.Oci;

namespace OciBundle.Tests;

/// <summary>
/// The OCI documents write their own JSON (no reflection on the user's clock): byte for byte what Newtonsoft's
/// serializer makes of the same records with the product's settings, every field set and every optional one absent.
/// </summary>
[TestClass]
public sealed class OciJsonTests
{
    // Text a writer must escape: quotes, a backslash, control characters, non-ASCII and a surrogate pair.
    private const string Odd = "a\"b\\c\u0001\t\n é ✓ 😀 </script>";

    private static OciDescriptor Descriptor(bool full) => new()
    {
        MediaType = OciMediaTypes.ImageManifest,
        Digest = "sha256:" + new string('a', 64),
        Size = long.MaxValue,
        Platform = full ? new OciPlatform { Architecture = "arm64", Os = "linux", OsVersion = "10.0." + Odd, Variant = "v8" } : null,
        Annotations = full ? new OrderedMap { ["z"] = Odd, ["a"] = "", [Odd] = "1" } : null,
    };

    private static OciImageConfig Config(bool full) => new()
    {
        Created = "2026-12-07T00:00:00Z",
        Architecture = "amd64",
        Variant = full ? "v2" : null,
        Os = "linux",
        OsVersion = full ? Odd : null,
        OsFeatures = full ? new[] { "win32k", Odd } : null,
        Config = new OciContainerConfig
        {
            User = "1000:1000",
            Env = new[] { "PATH=/usr/bin", Odd },
            Entrypoint = new[] { "/app/Hello" },
            WorkingDir = "/app",
            Cmd = full ? new[] { "--x", "" } : null,
            ExposedPorts = full ? new SortedDictionary<string, OciEmptyObject>(StringComparer.Ordinal) { ["8080/tcp"] = OciEmptyObject.Instance, ["53/udp"] = OciEmptyObject.Instance } : null,
            Volumes = full ? new Dictionary<string, OciEmptyObject> { ["/data"] = OciEmptyObject.Instance } : null,
            Labels = full ? new SortedDictionary<string, string>(StringComparer.Ordinal) { ["b"] = Odd, ["a"] = "" } : new Dictionary<string, string>(),
            StopSignal = full ? "SIGQUIT" : null,
        },
        RootFs = new OciRootFs { Type = "layers", DiffIds = new[] { "sha256:" + new string('b', 64), "sha256:" + new string('c', 64) } },
        History = new[]
        {
            new OciHistory { Created = "2026-12-07T00:00:00Z", Author = full ? Odd : null, CreatedBy = "OciBundle.Sdk: app", Comment = full ? "c" : null, EmptyLayer = full ? true : null },
            new OciHistory { EmptyLayer = false },
        },
    };

    private static IEnumerable<IOciDocument> Documents(bool full)
    {
        yield return Config(full);
        yield return Descriptor(full);
        yield return new OciManifest { SchemaVersion = 2, MediaType = full ? OciMediaTypes.ImageManifest : null, Config = Descriptor(false), Layers = new[] { Descriptor(full), Descriptor(false) }, Annotations = full ? new OrderedMap { ["k"] = Odd } : null };
        yield return new OciManifest { Config = Descriptor(false), Layers = Array.Empty<OciDescriptor>() };
        yield return new OciIndex { SchemaVersion = 2, MediaType = full ? OciMediaTypes.ImageIndex : null, Manifests = new[] { Descriptor(full) }, Annotations = full ? new OrderedMap { ["k"] = "v" } : null };
        yield return new OciLayoutFile();
    }

    [TestMethod]
    public void EveryDocumentWritesTheBytesTheSerializerWould()
    {
        foreach (bool full in new[] { true, false })
        {
            foreach (IOciDocument document in Documents(full))
            {
                // The product's own serializer settings, reflection and all, as the reference.
                string expected = JsonConvert.SerializeObject(document, OciJson.Settings);
                string written = Encoding.UTF8.GetString(OciJson.Serialize(document));
                Assert.AreEqual(expected, written, $"{document.GetType().Name} ({(full ? "every field" : "optional fields absent")})");
            }
        }
    }

    [TestMethod]
    public void TheFullDocumentsSetEveryFieldTheirTypesDeclare()
    {
        // A field added to a type but not to its Write would be left out of the image: some instance of each type in
        // the full documents above must set every field its type declares, so the comparison sees each one.
        var complete = new HashSet<Type>();
        void Walk(IOciDocument document)
        {
            bool all = true;
            // Every property the serializer would write: public, not [JsonIgnore] (with or without [JsonProperty]).
            foreach (PropertyInfo property in document.GetType().GetProperties().Where(p => p.GetMethod is { IsPublic: true } && p.GetCustomAttribute<JsonIgnoreAttribute>() is null && p.GetIndexParameters().Length == 0))
            {
                object? field = property.GetValue(document);
                all &= field is not null;
                foreach (object? item in field is IOciDocument one ? new[] { one } : field is System.Collections.IEnumerable items and not string ? items.Cast<object?>() : Array.Empty<object?>())
                {
                    if (item is IOciDocument nested)
                    {
                        Walk(nested);
                    }
                }
            }

            if (all)
            {
                complete.Add(document.GetType());
            }
        }

        foreach (IOciDocument document in Documents(full: true))
        {
            Walk(document);
        }

        foreach (Type type in typeof(IOciDocument).Assembly.GetTypes().Where(t => t.IsClass && typeof(IOciDocument).IsAssignableFrom(t)))
        {
            Assert.IsTrue(complete.Contains(type), $"the full documents hold a {type.Name} with every field set");
        }
    }

    [TestMethod]
    public void ADocumentReadBackIsTheOneWritten()
    {
        OciImageConfig config = Config(full: true);
        byte[] bytes = OciJson.Serialize(config);
        CollectionAssert.AreEqual(bytes, OciJson.Serialize(OciJson.Deserialize<OciImageConfig>(bytes)));
    }
}
