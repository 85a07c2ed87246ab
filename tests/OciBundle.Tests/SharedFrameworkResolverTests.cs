using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Dotnet;

namespace OciBundle.Tests;

[TestClass]
public sealed class SharedFrameworkResolverTests
{
    private static readonly string[] Installed = { "8.0.1", "8.0.11", "9.0.0", "10.0.0-rc.2", "10.0.3", "10.0.12", "10.1.0" };

    [TestMethod]
    [DataRow("10.0.0", "Minor", "10.0.12")]
    [DataRow("10.0.0", "LatestPatch", "10.0.12")]
    [DataRow("10.0.0", "LatestMinor", "10.1.0")]
    [DataRow("8.0.0", "Minor", "8.0.11")]
    [DataRow("8.0.0", "Major", "8.0.11")]
    [DataRow("8.0.0", "LatestMajor", "10.1.0")]
    [DataRow("7.0.0", "Minor", null)]
    [DataRow("7.0.0", "Major", "8.0.11")]
    [DataRow("9.0.0", "Disable", "9.0.0")]
    [DataRow("9.0.1", "Disable", null)]
    public void PicksTheVersionTheHostWould(string requested, string rollForward, string? expected) =>
        Assert.AreEqual(expected, SharedFrameworkResolver.Pick(Installed, requested, rollForward));
}
