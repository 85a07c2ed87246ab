using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Planning.Steps;
using OciBundle.State;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// Answers a plan takes from what it read before: a folder reached by two names is listed once and recorded under
/// both (the no-op check still sees a change through either), and a commit's remembered time only for that very
/// commit, never from a malformed or foreign state line.
/// </summary>
[TestClass]
public sealed class RememberedAnswersTests
{
    [TestMethod]
    public void AFolderReachedByTwoNamesIsListedOnceAndRecordedUnderBoth()
    {
        using var dir = new TempDirectory();
        string real = dir.Combine("usr", "lib");
        Directory.CreateDirectory(real);
        File.WriteAllText(Path.Combine(real, "libicuuc.so.72"), "");
        File.WriteAllText(Path.Combine(real, "libc.so.6"), "");
        File.CreateSymbolicLink(dir.Combine("lib"), "usr/lib"); // a merged /usr

        var ledger = new InputLedger();
        IReadOnlyList<byte[]> first = ledger.ListingNames(dir.Combine("lib"));
        IReadOnlyList<byte[]> second = ledger.ListingNames(real);
        Assert.AreSame(first, second, "read once, by whichever name came first");
        CollectionAssert.AreEqual(new[] { "libc.so.6", "libicuuc.so.72" }, first.Select(n => System.Text.Encoding.UTF8.GetString(n)).ToArray(), "sorted, as bytes");
        Assert.AreEqual(ledger.Entries["list " + dir.Combine("lib")], ledger.Entries["list " + real]);
        Assert.IsNull(InputLedger.FirstChange(ledger.Entries), "nothing changed");

        File.WriteAllText(Path.Combine(real, "libicuuc.so.74"), "");
        string? change = InputLedger.FirstChange(ledger.Entries);
        Assert.IsNotNull(change);
        StringAssert.StartsWith(change, "list ");

        var other = new InputLedger();
        Assert.AreEqual(0, other.ListingNames(dir.Combine("missing")).Count);
        Assert.AreEqual("missing", other.Entries["list " + dir.Combine("missing")]);
    }

    [TestMethod]
    public void ACommitsTimeIsRememberedOnlyForThatCommitAndOnlyFromAWellFormedLine()
    {
        string id = new string('a', 40);
        Assert.AreEqual(1700000000L, CreationTimeStep.Remembered($"{id} 1700000000", id));
        foreach (string? record in new[] { null, "", id, $"{id} ", $"{id} -1", $"{id} +5", $"{id} 12x", $"{id} 4294967296", $"{id} 1 2", $"{new string('b', 40)} 1700000000", $"{id}  1700000000" })
        {
            Assert.IsNull(CreationTimeStep.Remembered(record, id), record ?? "null");
        }

        // Saved and loaded back through the state file, as the next publish reads it.
        using var dir = new TempDirectory();
        var state = new BuildState { Key = "k", CommitDate = $"{id} 1700000000" };
        state.Save(dir.Combine("state"));
        Assert.AreEqual($"{id} 1700000000", BuildState.Load(dir.Combine("state"))!.CommitDate);
    }
}
