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

    [TestMethod]
    public void HostileListsAnswerAsBeforeAndDoNotSizeTheTableByTheirBlankOrRepeatedLines()
    {
        // Lists a damaged or hostile sysroot can hold (each under the package database's 16 MiB a list): 15 MB of blank
        // lines, 15 MB of one path listed over and over, a list with only CR line ends, an empty list, binary garbage.
        // The table was sized by the lists' line feeds: a list of blank lines made it 32 Mi slots (512 MiB) for no path.
        string folder = Path.Combine(Path.GetTempPath(), "ocib-dpkg-hostile-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var random = new Random(5);
            byte[] garbage = new byte[1 << 20];
            random.NextBytes(garbage);
            var crOnly = new StringBuilder();
            for (int i = 0; i < 50000; i++)
            {
                crOnly.Append("/usr/share/cr/").Append(i).Append('\r');
            }

            var lists = new (string Package, byte[] Bytes)[]
            {
                ("blank", Enumerable.Repeat((byte)'\n', 15 << 20).ToArray()),
                ("dup", Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("/usr/bin/dup\n", (15 << 20) / 13)))),
                ("cr", Encoding.UTF8.GetBytes(crOnly.ToString())),
                ("empty", Array.Empty<byte>()),
                ("garbage", garbage),
                ("late", Encoding.UTF8.GetBytes("/usr/bin/dup\n/usr/share/cr/7\n/usr/bin/late\n")),
            };
            var paths = new List<(string Package, string Path)>();
            foreach ((string package, byte[] bytes) in lists)
            {
                string list = Path.Combine(folder, package + ".list");
                File.WriteAllBytes(list, bytes);
                paths.Add((package, list));
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            DpkgListIndex index = DpkgListIndex.Read(paths, Merged, 16 << 20);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before - lists.Sum(l => (long)l.Bytes.Length);

            Assert.AreEqual("dup", index.OwnerOf("/usr/bin/dup"));
            Assert.AreEqual("cr", index.OwnerOf("/usr/share/cr/7"));
            Assert.AreEqual("cr", index.OwnerOf("/usr/share/cr/49999"));
            Assert.AreEqual("late", index.OwnerOf("/usr/bin/late"));
            Assert.IsNull(index.OwnerOf("/usr/bin/absent"));
            Assert.IsTrue(index.Capacity <= 1 << 20, $"{index.Capacity} slots for {index.Count} paths");
            Assert.IsTrue(allocated < 64L << 20, $"{allocated / 1048576.0:F0} MiB allocated beyond the lists' bytes for {index.Count} paths");
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
