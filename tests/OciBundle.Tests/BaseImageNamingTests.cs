using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using Fixture = OciBundle.Tests.BaseImageTests.Fixture;

namespace OciBundle.Tests;

/// <summary>
/// A user's trial of <c>OciImageBase</c>: a user name of the base's /etc/passwd (www-data, nobody) is the process's
/// user, as an engine would resolve it; and an error of reading or pulling the base names OciImageBase, not
/// OciBundleSysroot, when the base is not the sysroot too.
/// </summary>
[TestClass]
public sealed class BaseImageNamingTests
{
    private static string Process(Fixture f) => (string)JObject.Parse(File.ReadAllText(Path.Combine(f.Bundle, "config.json")))["process"]!["user"]!["uid"]! + ":"
        + (string)JObject.Parse(File.ReadAllText(Path.Combine(f.Bundle, "config.json")))["process"]!["user"]!["gid"]!;

    private static string ImageUser(Fixture f)
    {
        string image = BaseImageConfigTests.ImageOf(f);
        JObject manifest = BaseImageTests.Blob(image, BaseImageTests.ManifestDigest(image));
        return (string)BaseImageTests.Blob(image, (string)manifest["config"]!["digest"]!)["config"]!["User"]!;
    }

    [TestMethod]
    [DataRow("svc", "999:999")]
    [DataRow("nobody", "65534:65534")]
    [DataRow("svc:shadow", "999:42")]
    [DataRow("daemon:nogroup", "1:65534")]
    [DataRow("app", "1654:1654")]
    public void AUserNameOfTheBaseIsItsUidAndGid(string user, string ids)
    {
        using var f = new Fixture(addToTree: BaseImageConfigTests.Accounts(BaseImageConfigTests.BasePasswd, BaseImageConfigTests.BaseGroup));
        f.Publish(BaseImageConfigTests.ImageOf(f), user: user);
        Assert.AreEqual(ids, Process(f), "config.json's process.user");
        Assert.AreEqual(ids, ImageUser(f), "the image config's User");
    }

    [TestMethod]
    public void ANameTheBaseLacksIsOCIB1041ListingTheBasesNames()
    {
        using var f = new Fixture(addToTree: BaseImageConfigTests.Accounts(BaseImageConfigTests.BasePasswd, BaseImageConfigTests.BaseGroup));
        CollectionAssert.AreEqual(new[] { "OCIB1041" }, f.Publish(BaseImageConfigTests.ImageOf(f), succeed: false, user: "www-data"));
        string message = f.Engine.Errors.Single().Message!;
        StringAssert.Contains(message, "'www-data'");
        StringAssert.Contains(message, "root, daemon, mail, nobody, svc, app");

        CollectionAssert.AreEqual(new[] { "OCIB1041" }, f.Publish(BaseImageConfigTests.ImageOf(f), succeed: false, user: "svc:wheel"), "a group the base's /etc/group lacks");
    }

    [TestMethod]
    public void ABaseLayoutThatDoesNotExistNamesOciImageBase()
    {
        using var f = new Fixture();
        string missing = f.Combine("no-such-layout");
        CollectionAssert.AreEqual(new[] { "OCIB1100" }, f.Publish(BaseImageConfigTests.ImageOf(f), succeed: false, imageBase: missing));
        string message = f.Engine.Errors.Single().Message!;
        StringAssert.StartsWith(message, $"OciImageBase '{missing}'");
        Assert.IsFalse(message.Contains("OciBundleSysroot '", StringComparison.Ordinal), message);
    }

    [TestMethod]
    public void AnUnreachableRegistryBaseNamesOciImageBase()
    {
        using var f = new Fixture();
        CollectionAssert.AreEqual(new[] { "OCIB1622" }, f.Publish(BaseImageConfigTests.ImageOf(f), succeed: false, imageBase: "docker://127.0.0.1:1/none/base:1"));
        string message = f.Engine.Errors.Single().Message!;
        StringAssert.StartsWith(message, "OciImageBase 'docker://127.0.0.1:1/none/base:1'");
    }
}
