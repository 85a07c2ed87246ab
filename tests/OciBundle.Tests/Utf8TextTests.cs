using System.Security.Cryptography;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Model;

namespace OciBundle.Tests;

/// <summary>The SBOM's and provenance.json's bytes, made from a builder's chunks: exactly those of the whole text.</summary>
[TestClass]
public sealed class Utf8TextTests
{
    [TestMethod]
    public void ChunkedBytesAndHashAreThoseOfTheWholeTextAcrossChunkAndSliceBoundaries()
    {
        // Appends of odd sizes make chunk boundaries fall inside surrogate pairs; 10,000 chars of one append cross
        // the 4,096-char slices; a lone surrogate is replaced as Encoding.UTF8 replaces it.
        var text = new StringBuilder();
        var random = new Random(7);
        for (int i = 0; i < 3000; i++)
        {
            text.Append(random.Next(5) switch
            {
                0 => "ascii " + i,
                1 => "\U0001F600",
                2 => "é€",
                3 => "\uD83D",
                _ => new string('x', random.Next(1, 40)) + "\U0001F4E6",
            });
        }

        text.Append(new string('y', 10_000)).Append("\U0001F600");
        byte[] expected = Encoding.UTF8.GetBytes(text.ToString());

        CollectionAssert.AreEqual(expected, Utf8Text.Bytes(text));
        CollectionAssert.AreEqual(SHA256.HashData(expected), Utf8Text.Sha256(text));
        int chunks = 0;
        foreach (ReadOnlyMemory<char> _ in text.GetChunks())
        {
            chunks++;
        }

        Assert.IsTrue(chunks > 2, "the text spans several chunks");
    }

    [TestMethod]
    public void AnEmptyBuilderGivesNoBytes()
    {
        Assert.AreEqual(0, Utf8Text.Bytes(new StringBuilder()).Length);
        CollectionAssert.AreEqual(SHA256.HashData(Array.Empty<byte>()), Utf8Text.Sha256(new StringBuilder()));
    }
}
