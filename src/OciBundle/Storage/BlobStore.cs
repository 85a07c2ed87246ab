using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using OciBundle.Interop;
using OciBundle.Model.Oci;

namespace OciBundle.Storage;

/// <summary>
/// A content-addressed store: blobs by digest in <c>blobs/sha256/&lt;hex&gt;</c> under a root, as an OCI image layout
/// holds them (umoci's <c>oci/cas</c>). A blob goes in only under the digest of its bytes (a digest the writer expects
/// is checked); it is read only as a regular file (a FIFO or a device at a blob's name is refused before a byte is
/// read); a document is read only up to a size and only if it hashes to its name; a blob of another store is taken
/// by a hard link where the file system allows, else copied. No path is ever made of a text that is not a sha256
/// digest. Failures are <see cref="BlobStoreException"/>s, which each reader turns into its own coded error.
/// </summary>
internal sealed class BlobStore
{
    /// <summary>The most a manifest, index or config may take: what registries accept (distribution's limit).</summary>
    public const int MaxDocumentBytes = 4 << 20;

    public BlobStore(string root)
    {
        Root = root;
        BlobsDirectory = Path.Combine(root, "blobs", "sha256");
    }

    /// <summary>The folder the store is in (an image layout's).</summary>
    public string Root { get; }

    /// <summary><c>blobs/sha256</c> under <see cref="Root"/>.</summary>
    public string BlobsDirectory { get; }

    /// <summary>Makes <see cref="BlobsDirectory"/> (and the folders above it).</summary>
    public BlobStore Create()
    {
        Directory.CreateDirectory(BlobsDirectory);
        return this;
    }

    /// <summary>Where a blob is; a <see cref="BlobStoreException"/> for a text that is not a sha256 digest.</summary>
    public string PathOf(string digest) => OciDigest.IsSha256(digest)
        ? Path.Combine(BlobsDirectory, digest[OciDigest.Sha256Prefix.Length..])
        : throw new BlobStoreException(BlobProblem.NotADigest, digest, $"'{digest}' is not a sha256 digest");

    /// <summary>Whether the store has a file under this digest.</summary>
    public bool Exists(string digest) => File.Exists(PathOf(digest));

    /// <summary>The digests of the blobs in the store, in order; files of other names are none of its blobs.</summary>
    public IReadOnlyList<string> Digests() => !Directory.Exists(BlobsDirectory) ? Array.Empty<string>()
        : Directory.EnumerateFiles(BlobsDirectory).Select(p => OciDigest.Sha256Prefix + Path.GetFileName(p)).Where(OciDigest.IsSha256).Order(StringComparer.Ordinal).ToList();

    /// <summary>Puts <paramref name="content"/> under its digest; its descriptor's digest and size.</summary>
    public (string Digest, long Size) Put(byte[] content)
    {
        using BlobWriter writer = BeginPut();
        writer.Stream.Write(content);
        return writer.Commit();
    }

    /// <summary>A blob written as a stream (hashed as it goes), put under its digest by <see cref="BlobWriter.Commit"/>.</summary>
    public BlobWriter BeginPut() => new(this);

    /// <summary>
    /// A blob opened for reading, which must be a regular file (a link to one is followed): a device, a FIFO or a folder at
    /// a blob's name would never end (/dev/zero) or block (a FIFO), so it is refused before a byte is read.
    /// </summary>
    public FileStream Open(string digest) => OpenFile(PathOf(digest));

    /// <summary>A file of a store (or a layout's <c>index.json</c>) opened as <see cref="Open"/> does.</summary>
    public static FileStream OpenFile(string path)
    {
        int fd = NativeMethods.Open(path, NativeMethods.O_RDONLY | NativeMethods.O_CLOEXEC | NativeMethods.O_NONBLOCK, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == NativeMethods.ENOENT
                ? new BlobStoreException(BlobProblem.Missing, path, $"{path} is missing")
                : new BlobStoreException(BlobProblem.Unreadable, path, $"{path} cannot be opened: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (NativeMethods.FStat(fd) is not { } s || (s.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG)
        {
            handle.Dispose();
            throw new BlobStoreException(BlobProblem.NotAFile, path, $"{path} is not a regular file");
        }

        return new FileStream(handle, FileAccess.Read, 1);
    }

    /// <summary>A document (a manifest, an index, a config): at most <see cref="MaxDocumentBytes"/>, and only if it hashes to <paramref name="digest"/>.</summary>
    public byte[] ReadDocument(string digest)
    {
        string path = PathOf(digest);
        byte[] content = ReadSmallFile(path);
        string actual = OciDigest.Of(content);
        return actual == digest ? content : throw new BlobStoreException(BlobProblem.Corrupt, path, $"blob {digest} does not hold what its digest says (it hashes to {actual})");
    }

    /// <summary>A small file of the layout (<c>index.json</c>) or a document, read whole, opened as <see cref="Open"/> does; at most <see cref="MaxDocumentBytes"/>.</summary>
    public static byte[] ReadSmallFile(string path)
    {
        using FileStream stream = OpenFile(path);
        if (stream.Length > MaxDocumentBytes)
        {
            throw new BlobStoreException(BlobProblem.TooLarge, path, $"{path} is larger than a manifest can be");
        }

        byte[] content = new byte[stream.Length];
        stream.ReadExactly(content);
        return content;
    }

    /// <summary>Takes a blob of another store as it is: a hard link, or a copy on another file system.</summary>
    public void Import(BlobStore source, string digest)
    {
        string target = PathOf(digest);
        if (!File.Exists(target) && NativeMethods.link(source.PathOf(digest), target) != 0)
        {
            File.Copy(source.PathOf(digest), target); // another file system: a copy
        }
    }

    /// <summary>
    /// Takes the blob at <paramref name="blobPath"/> (another store's, named by <paramref name="digest"/>) if it is still the
    /// file whose <see cref="NativeMethods.Identity(NativeMethods.Statx)"/> was <paramref name="identity"/> when written:
    /// a hard link, nothing read; a copy where the file system refuses the link. False, and nothing taken, on any doubt.
    /// </summary>
    public bool Adopt(string blobPath, string digest, long size, string identity) => BlobAdoption.Adopt(blobPath, PathOf(digest), size, identity);
}

/// <summary>What was wrong with a blob a store was asked for.</summary>
internal enum BlobProblem
{
    NotADigest,
    Missing,
    Unreadable,
    NotAFile,
    TooLarge,
    Corrupt,
    DigestMismatch,
}

/// <summary>A blob a store cannot give or take; its message names the file and why.</summary>
internal sealed class BlobStoreException : IOException
{
    public BlobStoreException(BlobProblem problem, string path, string message)
        : base(message)
    {
        Problem = problem;
        BlobPath = path;
    }

    public BlobProblem Problem { get; }

    /// <summary>The file (or, for <see cref="BlobProblem.NotADigest"/>, the text) concerned.</summary>
    public string BlobPath { get; }
}

/// <summary>
/// A blob being written into a store: <see cref="Stream"/> takes the bytes (hashed as they pass), <see cref="Commit"/>
/// names the file by their digest. Until then it is a temporary file in the store, removed if never committed.
/// </summary>
internal sealed class BlobWriter : IDisposable
{
    private readonly BlobStore _store;
    private readonly string _temp;
    private readonly FileStream _file;
    private readonly HashingStream _hashing;
    private bool _done;

    internal BlobWriter(BlobStore store)
    {
        _store = store;
        _temp = Path.Combine(store.BlobsDirectory, ".tmp-" + Guid.NewGuid().ToString("N"));
        _file = new FileStream(_temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        _hashing = new HashingStream(_file, leaveOpen: true);
    }

    /// <summary>Where the blob's bytes go.</summary>
    public Stream Stream => _hashing;

    /// <summary>
    /// Puts the blob under its digest (a blob already there with it is replaced by the same bytes); with
    /// <paramref name="expected"/>, only if that is its digest. Its descriptor's digest and size.
    /// </summary>
    public (string Digest, long Size) Commit(string? expected = null)
    {
        _file.Flush();
        _file.Dispose();
        string digest = _hashing.Digest();
        long size = _hashing.BytesHashed;
        if (expected is not null && expected != digest)
        {
            throw new BlobStoreException(BlobProblem.DigestMismatch, expected, $"the blob named {expected} holds bytes whose digest is {digest}");
        }

        File.Move(_temp, _store.PathOf(digest), overwrite: true);
        _done = true;
        return (digest, size);
    }

    public void Dispose()
    {
        _hashing.Dispose();
        _file.Dispose();
        if (!_done)
        {
            File.Delete(_temp);
        }
    }
}
