using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Diagnostics;
using OciBundle.Testing;

namespace OciBundle.Tests;

[TestClass]
public sealed class StringsTests
{
    private static readonly XDocument Resx = XDocument.Load(Path.Combine(TestEnvironment.RepoRoot, "src", "OciBundle", "Diagnostics", "Strings.resx"));

    [TestMethod]
    public void NoTwoDiagnosticsShareACode()
    {
        var duplicates = Strings.All.GroupBy(d => d.Code).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.AreEqual(0, duplicates.Count, "shared codes: " + string.Join(", ", duplicates));
        Assert.IsTrue(Strings.All.All(d => Regex.IsMatch(d.Code, "^OCIB[0-9]{4}$")));
    }

    [TestMethod]
    public void EveryResourceEntryHasAFieldAndEveryFieldAnEntry()
    {
        var names = Resx.Root!.Elements("data").Select(d => (string)d.Attribute("name")!).ToList();
        CollectionAssert.AreEquivalent(names, Strings.All.Select(d => d.Name).ToList());
    }

    [TestMethod]
    public void ErrorsInTheTargetsMatchTheResourceFile()
    {
        string targets = File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "sdk", "build", "OciBundle.Sdk.targets"));
        var inTargets = Regex.Matches(targets, "Code=\"(OCIB[0-9]{4})\"\\s+Text=\"([^\"]*)\"").Select(m => (Code: m.Groups[1].Value, Text: m.Groups[2].Value)).ToList();
        Assert.IsTrue(inTargets.Count > 0);
        foreach ((string code, string text) in inTargets)
        {
            Diagnostic d = Strings.All.Single(x => x.Code == code);
            Assert.AreEqual(d.Template.Replace("{0}", "$(MSBuildVersion)"), text, code);
        }
    }

    [TestMethod]
    public void EveryMessageSaysWhatToDo()
    {
        foreach (Diagnostic d in Strings.All)
        {
            Assert.IsTrue(d.Template.Length > 60, $"{d.Code} is too short to name the property and the fix");
        }
    }

    [TestMethod]
    public void EveryCodeIsDocumentedInTheReadme()
    {
        string readme = File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "README.md"));
        var missing = Strings.All.Where(d => !readme.Contains(d.Code, StringComparison.Ordinal)).Select(d => d.Code).ToList();
        Assert.AreEqual(0, missing.Count, "README lacks: " + string.Join(", ", missing));
    }
}
