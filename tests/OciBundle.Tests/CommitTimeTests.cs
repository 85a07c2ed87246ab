using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Request;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// Issue 28, item 8: without SOURCE_DATE_EPOCH, the image and the SBOM are created at the time of the commit built, so
/// they show a meaningful age and stay reproducible; every file's timestamp stays the fixed one, so the layers of two
/// commits that change only the app are still shared.
/// </summary>
[TestClass]
public sealed class CommitTimeTests
{
    private static string Git(string dir, long time, params string[] args)
    {
        TestEnvironment.Require(TestEnvironment.Which("git") is not null, "git is not installed");
        var env = new Dictionary<string, string?>
        {
            ["GIT_AUTHOR_DATE"] = $"@{time - 3600} +0200", // the committer's time is the one, not the author's
            ["GIT_COMMITTER_DATE"] = $"@{time} +0200",
            ["GIT_CONFIG_NOSYSTEM"] = "1",
            ["HOME"] = dir,
        };
        ProcessResult git = TestEnvironment.Run("git", new[] { "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main" }.Concat(args), dir, env, TimeSpan.FromMinutes(1));
        Assert.AreEqual(0, git.ExitCode, git.All);
        return git.Output.Trim();
    }

    private static string Commit(string dir, long time, string file)
    {
        File.WriteAllText(Path.Combine(dir, file), file);
        Git(dir, time, "add", file);
        Git(dir, time, "commit", "-q", "-m", file);
        return Git(dir, time, "rev-parse", "HEAD");
    }

    /// <summary>JSON with dates left as the text written (Newtonsoft would read them as local DateTimes).</summary>
    private static JObject Json(string path) => JObject.Load(new Newtonsoft.Json.JsonTextReader(new StringReader(File.ReadAllText(path))) { DateParseHandling = Newtonsoft.Json.DateParseHandling.None });

    private static string Iso(long seconds) => DateTimeOffset.FromUnixTimeSeconds(seconds).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    [TestMethod]
    public void TheCommitsTimeComesFromGitAndOnlyACommitIdIsEverPassedToIt()
    {
        using var repo = new TempDirectory();
        Git(repo.Path, 0, "init", "-q");
        string commit = Commit(repo.Path, 1700000000, "a.txt");
        var log = new List<string>();
        Assert.AreEqual(1700000000L, CommitTime.Read(repo.Path, commit, log.Add));
        StringAssert.Contains(log.Single(), "2023-11-14T22:13:20Z, the time of commit " + commit);

        log.Clear();
        Assert.IsNull(CommitTime.Read(repo.Path, new string('1', 40), log.Add), "a commit git does not have");
        StringAssert.Contains(log.Single(), "created is not the commit's");

        Assert.AreEqual(commit, CommitTime.Parse(commit));
        Assert.AreEqual(new string('a', 64), CommitTime.Parse(new string('a', 64)), "a SHA-256 repository's id");
        foreach (string bad in new[] { "", "HEAD", "--output=/tmp/x", commit.ToUpperInvariant(), commit[..39], commit + ";" + commit, "-" + commit[1..] })
        {
            Assert.IsNull(CommitTime.Parse(bad), bad);
        }
    }

    [TestMethod]
    public void TheImageAndTheSbomAreCreatedAtTheCommitsTimeAndTheFilesKeepTheFixedOne()
    {
        using var f = new SafetyTests.Fixture();
        (string project, string first, string layout) = PublishFirstCommit(f);
        Assert.AreEqual(Iso(1700000000), (string?)Json(Path.Combine(f.Bundle, "sbom.spdx.json"))["creationInfo"]!["created"]);
        Assert.AreEqual(TargetDefaults.Epoch, new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(f.Bundle, "rootfs", "app", "Hello"))).ToUnixTimeSeconds(), "files keep the fixed time");
        string systemLayer = Layers(layout)[0];

        // The same commit: up to date, git not asked. A new one: the image says so, and only what changed is new.
        f.Publish(t => { t.SourceCommit = first; t.ImageDirectory = layout; });
        Assert.IsTrue(f.Engine.Messages.Any(m => m.Message!.StartsWith("Nothing changed", StringComparison.Ordinal)));
        Assert.IsFalse(f.Engine.Messages.Any(m => m.Message!.StartsWith("created:", StringComparison.Ordinal)), "git is asked only when the publish is out of date");
        string second = Commit(project, 1750000000, "README.md");
        f.Publish(t => { t.SourceCommit = second; t.ImageDirectory = layout; });
        Assert.AreEqual(Iso(1750000000), Created(layout));
        Assert.AreEqual(systemLayer, Layers(layout)[0], "a layer whose files did not change keeps its digest across commits");

        // Outside git (no commit given), the fixed time, as before.
        f.Publish(t => { t.SourceCommit = null; t.ImageDirectory = layout; });
        Assert.AreEqual(Iso(TargetDefaults.Epoch), Created(layout));
    }

    [TestMethod]
    public void ACommitsTimeIsTakenFromTheLastPublishOfTheSameCommitAndAskedAgainForAnother()
    {
        using var f = new SafetyTests.Fixture();
        (string project, string first, string layout) = PublishFirstCommit(f);

        // git can no longer tell (the repository is gone): an app change is planned again with the time the last
        // publish found for the same commit, and says where it came from.
        Directory.Delete(Path.Combine(project, ".git"), recursive: true);
        File.WriteAllText(Path.Combine(f.PublishDir, "data.txt"), "changed");
        f.Publish(t => { t.SourceCommit = first; t.ImageDirectory = layout; });
        Assert.IsTrue(f.Engine.Messages.Any(m => m.Message!.Contains("as the last publish found it", StringComparison.Ordinal)));
        Assert.AreEqual(Iso(1700000000), Created(layout));
        Assert.AreEqual(Iso(1700000000), (string?)Json(Path.Combine(f.Bundle, "sbom.spdx.json"))["creationInfo"]!["created"]);

        // Another commit is asked about (and git, without its repository, cannot tell: the fixed time), and nothing is
        // remembered for it: a repository back in place answers the next publish.
        string other = new string('b', 40);
        f.Publish(t => { t.SourceCommit = other; t.ImageDirectory = layout; });
        Assert.AreEqual(Iso(TargetDefaults.Epoch), Created(layout));
        Assert.IsFalse(File.ReadAllText(f.State).Contains("commit\t", StringComparison.Ordinal), "a time git did not give is not remembered");
    }

    /// <summary>The fixture's project made a git repository with one commit (at 1700000000), published as a bundle and an image from it: its folder, the commit, the layout.</summary>
    private static (string Project, string First, string Layout) PublishFirstCommit(SafetyTests.Fixture f)
    {
        string project = Path.Combine(f.Root, "proj");
        Git(project, 0, "init", "-q");
        string first = Commit(project, 1700000000, "Program.cs");
        string layout = Path.Combine(project, "bin", "oci-image");
        f.Publish(t => { t.SourceCommit = first; t.ImageDirectory = layout; });
        Assert.AreEqual(Iso(1700000000), Created(layout));
        return (project, first, layout);
    }

    private static JObject Manifest(string layout)
    {
        JObject index = Json(Path.Combine(layout, "index.json"));
        return Json(Path.Combine(layout, "blobs", "sha256", ((string)index["manifests"]![0]!["digest"]!)[7..]));
    }

    private static string Created(string layout)
    {
        JObject manifest = Manifest(layout);
        JObject config = Json(Path.Combine(layout, "blobs", "sha256", ((string)manifest["config"]!["digest"]!)[7..]));
        Assert.AreEqual((string?)config["created"], (string?)manifest["annotations"]!["org.opencontainers.image.created"]);
        Assert.IsTrue(config["history"]!.All(h => (string?)h["created"] == (string?)config["created"]));
        return (string)config["created"]!;
    }

    private static List<string> Layers(string layout) => Manifest(layout)["layers"]!.Select(l => (string)l["digest"]!).ToList();
}
