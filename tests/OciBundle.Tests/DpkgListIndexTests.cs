using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Closure;

namespace OciBundle.Tests;

/// <summary>
/// The index of dpkg's package lists answers what a table of one string per listed path answered (the first package to
/// list a path keeps it; trailing slashes dropped; a path under a merged folder kept under /usr), for every path of
/// lists large enough to grow it many times, and for this machine's own database.
/// </summary>
[TestClass]
public sealed class DpkgListIndexTests
{
    private static readonly string[] Merged = { "/lib/", "/bin/", "/sbin/" };

    [TestMethod]
    [DataRow(false, DisplayName = "a table that grows from small")]
    [DataRow(true, DisplayName = "a table sized once by the lists' line count, as the package database makes it")]
    public void GivesTheOwnerAStringTableGaveForEveryListedPath(bool sized)
    {
        var random = new Random(27);
        var lists = new List<(string Package, byte[] Bytes)>();
        for (int p = 0; p < 40; p++)
        {
            var text = new StringBuilder();
            for (int i = 0; i < 3000; i++)
            {
                // Shared folders, paths two packages list, merged and unmerged spellings, trailing slashes, non-ASCII.
                string folder = new[] { "/usr/lib", "/lib", "/bin", "/usr/share/doc", "/sbin/x", "/libexec", "/etc/ø" }[random.Next(7)];
                text.Append(folder).Append('/').Append(random.Next(p < 20 ? 60000 : 20000)).Append(random.Next(4) == 0 ? "/" : "").Append('\n');
            }

            text.Append("/.\n/usr\n/lib\n/lib/\n\n//\n/");
            lists.Add(($"pkg{p}:amd64", Encoding.UTF8.GetBytes(text.ToString())));
        }

        int lines = lists.Sum(l => l.Bytes.Count(b => b == (byte)'\n'));
        var index = new DpkgListIndex(Merged, sized ? lines : 0);
        int capacity = index.Capacity;
        var reference = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string package, byte[] bytes) in lists)
        {
            index.Add(package, bytes);
            foreach (string line in Encoding.UTF8.GetString(bytes).Split('\n'))
            {
                if (line.Length > 1 && ReferenceCanonical(line) is { Length: > 0 } path)
                {
                    reference.TryAdd(path, package);
                }
            }
        }

        Assert.IsTrue(reference.Count > 65536, $"enough paths to grow the table past its first size ({reference.Count})");
        Assert.AreEqual(reference.Count, index.Count);
        if (sized)
        {
            Assert.AreEqual(capacity, index.Capacity, "sized by the line count, the table is never made again");
            Assert.IsTrue(index.Capacity >= index.Count / 3 * 4, $"at most three quarters full ({index.Count} of {index.Capacity})");
        }
        else
        {
            Assert.IsTrue(index.Capacity >= 64 * capacity, $"grew many times, from {capacity} to {index.Capacity} slots");
        }

        foreach ((string path, string package) in reference)
        {
            Assert.AreEqual(package, index.OwnerOf(path), path);
        }

        Assert.AreEqual("pkg0:amd64", index.OwnerOf("/usr/lib"), "the merged folder itself, under /usr");
        Assert.AreEqual("pkg0:amd64", index.OwnerOf("/."));
        Assert.IsNull(index.OwnerOf("/lib"), "listed only as a merged folder: it is under /usr");
        Assert.IsNull(index.OwnerOf("/lib/7"), "under a merged folder, only its /usr name answers");
        Assert.IsNull(index.OwnerOf("/usr/lib/"), "a question is a path as the sysroot stores it");
        Assert.IsNull(index.OwnerOf("/usr/share/doc/60001"));
        Assert.IsNull(index.OwnerOf(""));
    }

    [TestMethod]
    public void AnswersAsAStringTableForThisMachinesOwnDatabase()
    {
        const string info = "/var/lib/dpkg/info";
        if (!Directory.Exists(info))
        {
            Assert.Inconclusive("This machine has no dpkg database (" + info + "): the generated lists above still run.");
        }

        var index = new DpkgListIndex(Merged);
        var reference = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string list in Directory.EnumerateFiles(info, "*.list").Order(StringComparer.Ordinal))
        {
            string package = Path.GetFileName(list)[..^".list".Length];
            index.Add(package, File.ReadAllBytes(list));
            foreach (string line in File.ReadAllText(list).Split('\n'))
            {
                if (line.Length > 1 && ReferenceCanonical(line) is { Length: > 0 } path)
                {
                    reference.TryAdd(path, package);
                }
            }
        }

        Assert.AreEqual(reference.Count, index.Count);
        foreach ((string path, string package) in reference)
        {
            Assert.AreEqual(package, index.OwnerOf(path), path);
        }
    }

    [TestMethod]
    public void ReadsLinesAsFileReadLinesDidWithCarriageReturnsAndAByteOrderMark()
    {
        // A list saved with CRLF (a sysroot folder edited or copied on Windows), a lone CR, and a UTF-8 BOM: the string
        // table read it with File.ReadLines, which ends a line at any of them and drops the BOM. The owners the plan
        // remembers in the machine's cache are keyed by the lists' identities, not by which reader answered, so a
        // different answer here made the SBOM (and the image's digest) depend on which version filled the cache.
        string folder = Path.Combine(Path.GetTempPath(), "ocib-dpkg-crlf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string list = Path.Combine(folder, "libicu72:amd64.list");
            File.WriteAllBytes(list, new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes(
                "/usr/lib/x86_64-linux-gnu/libicuuc.so.72.1\r\n/lib/x86_64-linux-gnu/libicudata.so.72.1/\r\n/usr/share/icu\r/usr/share/doc/libicu72\r\n")).ToArray());
            var index = new DpkgListIndex(Merged);
            index.Add("libicu72:amd64", File.ReadAllBytes(list));

            var reference = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string line in File.ReadLines(list).Where(l => l.Length > 1))
            {
                reference.TryAdd(ReferenceCanonical(line), "libicu72:amd64");
            }

            Assert.AreEqual(4, reference.Count);
            Assert.AreEqual(reference.Count, index.Count);
            foreach ((string path, string package) in reference)
            {
                Assert.AreEqual(package, index.OwnerOf(path), path);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The rule as the string table had it.</summary>
    private static string ReferenceCanonical(string listed)
    {
        string path = listed.TrimEnd('/');
        return Merged.Any(dir => path.StartsWith(dir, StringComparison.Ordinal) || path == dir.TrimEnd('/')) ? "/usr" + path : path;
    }
}
