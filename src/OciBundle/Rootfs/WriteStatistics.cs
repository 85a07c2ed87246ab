namespace OciBundle.Rootfs;

/// <summary>How much the last write copied and how much it reused.</summary>
internal sealed class WriteStatistics
{
    private long _filesWritten, _bytesWritten, _filesLinked, _bytesLinked;

    public long FilesWritten => Interlocked.Read(ref _filesWritten);
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);
    public long FilesLinked => Interlocked.Read(ref _filesLinked);
    public long BytesLinked => Interlocked.Read(ref _bytesLinked);

    internal void Reset() => _filesWritten = _bytesWritten = _filesLinked = _bytesLinked = 0;

    internal void AddWritten(long bytes)
    {
        Interlocked.Increment(ref _filesWritten);
        Interlocked.Add(ref _bytesWritten, bytes);
    }

    internal void AddLinked(long bytes)
    {
        Interlocked.Increment(ref _filesLinked);
        Interlocked.Add(ref _bytesLinked, bytes);
    }
}
