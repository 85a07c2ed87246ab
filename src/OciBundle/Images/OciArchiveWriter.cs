using System.Formats.Tar;
using OciBundle.Model;
using OciBundle.Outputs;
using OciBundle.Storage;

namespace OciBundle.Images;

/// <summary>
/// An image layout as one tar (an oci-archive, what <c>skopeo copy oci-archive:...</c> reads): its top files, its
/// store's folders and blobs (each read as the store opens it), sorted by name, with fixed times and modes; written
/// beside the archive and renamed over it, only over an archive the product wrote.
/// </summary>
internal static class OciArchiveWriter
{
    public static void Write(string layout, string archive, long epoch)
    {
        string full = Path.GetFullPath(archive);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            DateTimeOffset time = DateTimeOffset.FromUnixTimeSeconds(epoch);
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            using (var tar = new TarWriter(file, TarEntryFormat.Gnu, leaveOpen: false))
            {
                foreach ((string name, Func<Stream>? open) in Entries(layout))
                {
                    var entry = new GnuTarEntry(open is null ? TarEntryType.Directory : TarEntryType.RegularFile, open is null ? name + "/" : name)
                    {
                        ModificationTime = time, // no atime/ctime: see LayerWriter.WriteEntry
                        Mode = open is null ? RootfsPlan.DirectoryMode : (UnixFileMode)0b110_100_100,
                        UserName = "",
                        GroupName = "",
                    };
                    using Stream? data = open?.Invoke();
                    if (data is not null)
                    {
                        entry.DataStream = data;
                    }

                    tar.WriteEntry(entry);
                }
            }

            // Checked with the options, and again now: never replace a file the product did not write.
            if (OutputFolder.CheckArchive(full) is { } refused)
            {
                throw refused;
            }

            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>The layout's entries by name, in ordinal order: a folder (no opener) or a file and how to open it.</summary>
    private static IEnumerable<(string Name, Func<Stream>? Open)> Entries(string layout)
    {
        var store = new BlobStore(layout);
        var entries = new List<(string Name, Func<Stream>? Open)>
        {
            ("blobs", null),
            ("blobs/sha256", null),
        };
        foreach (string name in OutputFolder.Entries(OutputKind.Image).Where(n => n != "blobs"))
        {
            string path = Path.Combine(layout, name);
            entries.Add((name, () => BlobStore.OpenFile(path)));
        }

        foreach (string digest in store.Digests())
        {
            entries.Add(("blobs/sha256/" + digest[7..], () => store.Open(digest)));
        }

        return entries.OrderBy(e => e.Name, StringComparer.Ordinal);
    }
}
