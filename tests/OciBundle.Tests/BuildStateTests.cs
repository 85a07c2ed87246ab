using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.State;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>The state file in obj/: what is saved comes back, escapes and all; the parts read later are never another publish's.</summary>
[TestClass]
public sealed class BuildStateTests
{
    private static BuildState Sample(string key)
    {
        var state = new BuildState { Key = key };
        state.Inputs["path /usr/lib/x86_64-linux-gnu/libc.so.6"] = "file 81ed 0:0 12 34 56";
        state.Inputs["path /odd\tname\nwith\\escapes"] = "file 1 2 3";
        state.Sources["/app/Hello"] = "/src/Hello\t493";
        state.Digests["/src/Hello"] = "identity\tsha1 sha256";
        state.Bundle = new BuildState.OutputRecord { Directory = "/b" };
        state.Bundle.Entries["rootfs/app/Hello"] = "file x";
        state.Image = new BuildState.OutputRecord { Directory = "/i" };
        state.Image.Entries["blobs/sha256/" + new string('a', 64)] = "file y";
        state.Summary.FileCount = 3;
        state.Summary.TotalBytes = 1L << 40;
        state.Summary.Args.Add("/app/Hello");
        state.Summary.Args.Add("two words");
        state.Summary.ManifestDigest = "sha256:" + new string('b', 64);
        state.Summary.Layers.Add(new BuildState.LayerRecord { Name = "app", Digest = "sha256:" + new string('a', 64), Size = 42, DiffId = "sha256:" + new string('c', 64), Fingerprint = "sha256:" + new string('d', 64) });
        return state;
    }

    [TestMethod]
    public void WhatIsSavedIsLoadedBackEscapesAndAll()
    {
        using var dir = new TempDirectory();
        string path = dir.Combine("state.json");
        BuildState saved = Sample("sha256:key");
        saved.Save(path);

        BuildState loaded = BuildState.Load(path)!;
        Assert.AreEqual(saved.Key, loaded.Key);
        CollectionAssert.AreEquivalent(saved.Inputs.ToList(), loaded.Inputs.ToList());
        CollectionAssert.AreEquivalent(saved.Sources.ToList(), loaded.Sources.ToList());
        CollectionAssert.AreEquivalent(saved.Digests.ToList(), loaded.Digests.ToList());
        CollectionAssert.AreEqual(saved.Bundle!.Entries.ToList(), loaded.Bundle!.Entries.ToList());
        CollectionAssert.AreEqual(saved.Image!.Entries.ToList(), loaded.Image!.Entries.ToList());
        Assert.AreEqual(1L << 40, loaded.Summary.TotalBytes);
        CollectionAssert.AreEqual(new[] { "/app/Hello", "two words" }, loaded.Summary.Args);
        Assert.AreEqual(saved.Summary.ManifestDigest, loaded.Summary.ManifestDigest);
        BuildState.LayerRecord layer = loaded.Summary.Layers.Single();
        Assert.AreEqual((42L, "sha256:" + new string('c', 64), "sha256:" + new string('d', 64)), (layer.Size, layer.DiffId, layer.Fingerprint));
    }

    [TestMethod]
    public void SourcesReadLaterAreNeverThoseOfAPublishThatReplacedTheFileSince()
    {
        using var dir = new TempDirectory();
        string path = dir.Combine("state.json");
        Sample("sha256:first").Save(path);
        BuildState loaded = BuildState.Load(path)!;

        // Another publish of the project, with the same options, replaces the state before this one asks for its
        // sources and digests.
        BuildState other = Sample("sha256:first");
        other.Sources["/app/Hello"] = "/elsewhere/Hello\t493";
        other.Save(path);

        Assert.AreEqual(0, loaded.Sources.Count, "not the other publish's: none, so every file is copied and hashed again");
        Assert.AreEqual(0, loaded.Digests.Count);
    }

    [TestMethod]
    public void ALongLineAndADamagedFileAreReadOrRefusedNeverHalfRead()
    {
        using var dir = new TempDirectory();
        string path = dir.Combine("state.json");
        BuildState saved = Sample("sha256:key");
        string longPath = "/" + new string('x', 200_000); // longer than the reading buffer
        saved.Inputs["path " + longPath] = "file 1";
        saved.Save(path);
        Assert.AreEqual("file 1", BuildState.Load(path)!.Inputs["path " + longPath]);

        File.AppendAllText(path, "layer\tapp\tsha256:x\tnot-a-number\t\t\n");
        Assert.IsNull(BuildState.Load(path), "a damaged state is none: everything is written");
        File.WriteAllText(path, "ocibundle-state\t3\nkey\tk\tone\ttoo\tmany\tfields\tin\tall\n");
        Assert.IsNull(BuildState.Load(path));
    }

    [TestMethod]
    public void AFifoOrADeviceInPlaceOfTheStateIsNoStateAndNeverBlocks()
    {
        using var dir = new TempDirectory();
        string fifo = dir.Combine("state.json");
        Assert.AreEqual(0, TestEnvironment.RunCapture("mkfifo", fifo).ExitCode);
        var load = System.Threading.Tasks.Task.Run(() => BuildState.Load(fifo));
        Assert.IsTrue(load.Wait(TimeSpan.FromSeconds(10)), "answered, not blocked on the FIFO");
        Assert.IsNull(load.Result);

        string link = dir.Combine("zero.json");
        File.CreateSymbolicLink(link, "/dev/zero");
        Assert.IsNull(BuildState.Load(link));
    }
}
