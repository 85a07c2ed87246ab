using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Testing;

namespace OciBundle.EndToEnd.Tests;

/// <summary>
/// What a publish writes validates against the official schemas in ../shared (runtime-spec, image-spec, SPDX 2.3). Only this
/// needs ../shared, which a user's clone does not have: on such a machine this test skips and says why, and every
/// test that runs the bundles still runs. CI has ../shared and runs it.
/// </summary>
[TestClass]
public sealed class SchemaTests
{
    [TestMethod]
    public void APublishedBundleAndImageValidateAgainstTheOfficialSchemas()
    {
        TestEnvironment.RequireShared("oci-runtime-spec");
        TestEnvironment.RequireShared("oci-image-spec");
        TestEnvironment.RequireShared("spdx");
        using TestProject project = TestProject.WithSdkElement("Schemas", items: """<OciBundleRlimit Include="RLIMIT_CORE" Soft="0" />""");
        project.Publish("-p:PublishOciBundle=true", "-p:PublishOciImage=true");

        Assert.AreEqual("", SchemaValidator.Validate("1.3.0", Path.Combine(project.BundleDir, "config.json")), "config.json against runtime-spec 1.3.0");
        string image = Path.Combine(project.Directory, "bin", "Release", "net10.0", "linux-x64", "oci-image");
        string manifest = Path.Combine(image, "blobs", "sha256", ((string)JObject.Parse(File.ReadAllText(Path.Combine(image, "index.json")))["manifests"]![0]!["digest"]!)[7..]);
        string config = Path.Combine(image, "blobs", "sha256", ((string)JObject.Parse(File.ReadAllText(manifest))["config"]!["digest"]!)[7..]);
        Assert.AreEqual("", SchemaValidator.ValidateImage("image-index-schema.json", Path.Combine(image, "index.json")));
        Assert.AreEqual("", SchemaValidator.ValidateImage("image-manifest-schema.json", manifest));
        Assert.AreEqual("", SchemaValidator.ValidateImage("config-schema.json", config));
        Assert.AreEqual("", SchemaValidator.ValidateSpdx(Path.Combine(project.BundleDir, "sbom.spdx.json")), "the SBOM against SPDX 2.3");

        // And the same for spec version 1.0.0, the oldest a user may ask for.
        project.Publish("-p:PublishOciBundle=true", "-p:OciBundleSpecVersion=1.0.0");
        Assert.AreEqual("", SchemaValidator.Validate("1.0.0", Path.Combine(project.BundleDir, "config.json")), "config.json against runtime-spec 1.0.0");
    }
}
