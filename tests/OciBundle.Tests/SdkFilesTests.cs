using System.Xml.Linq;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>The package's MSBuild files are well-formed XML: a '--' in a comment stops every build that imports them.</summary>
[TestClass]
public sealed class SdkFilesTests
{
    [TestMethod]
    public void EveryPropsAndTargetsFileOfTheSdkIsWellFormed()
    {
        string[] files = Directory.GetFiles(Path.Combine(TestEnvironment.RepoRoot, "sdk"), "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".props", StringComparison.Ordinal) || f.EndsWith(".targets", StringComparison.Ordinal)).ToArray();
        Assert.IsTrue(files.Length >= 7, string.Join(", ", files));
        foreach (string file in files)
        {
            Assert.AreEqual("Project", XDocument.Load(file).Root!.Name.LocalName, file);
        }
    }
}
