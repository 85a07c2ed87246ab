using System.Collections.Concurrent;
using OciBundle.Request;

namespace OciBundle.Planning.Steps;

/// <summary>
/// The image's and the SBOM's <c>created</c>: the time of the commit the project was built from, else
/// <c>SOURCE_DATE_EPOCH</c> (1980-01-01 by default). A commit's time never changes (the id is a hash of it): the last
/// publish's answer for the same commit is taken as it is. Else git is asked on another core while the steps up to the
/// SBOM run (a process of its own: 8-17 ms of the plan's clock when asked in turn); its messages are logged by the
/// plan's thread, when the time is first read.
/// </summary>
internal sealed class CreationTimeStep : IPlanStep
{
    public void Run(PlanContext context)
    {
        ContentSpec content = context.Content;
        OutputSpec output = context.Output;
        if (output.Commit is not { } commit)
        {
            context.CreatedPending = new PendingTime(Task.FromResult(new CommitSeconds(null)), output.Epoch, null, context.Log);
            return;
        }

        var messages = new ConcurrentQueue<string>();
        if (Remembered(context.RememberedCommit, commit) is { } seconds)
        {
            messages.Enqueue($"created: {DateTimeOffset.FromUnixTimeSeconds(seconds):yyyy-MM-dd'T'HH:mm:ss'Z'}, the time of commit {commit} (SOURCE_DATE_EPOCH is not set; as the last publish found it).");
            context.CreatedPending = new PendingTime(Task.FromResult(new CommitSeconds(seconds)), output.Epoch, messages, context.Log) { Commit = commit };
            return;
        }

        string directory = content.ProjectDirectory ?? content.PublishDirectory;
        Task<CommitSeconds> read = Task.Run(() => new CommitSeconds(CommitTime.Read(directory, commit, messages.Enqueue)), CancellationToken.None);
        context.CreatedPending = new PendingTime(read, output.Epoch, messages, context.Log) { Commit = commit };
    }

    /// <summary>The seconds the last publish recorded for <paramref name="commit"/> ("id seconds"), or null for another commit or none.</summary>
    internal static long? Remembered(string? record, string commit) =>
        record?.Split(' ') is [{ } id, { } text] && id == commit
            && long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long seconds) && seconds <= uint.MaxValue
            ? seconds : null;
}

/// <summary><c>created</c> as it is being found: <see cref="Value"/> waits for it, and logs what was said meanwhile.</summary>
internal sealed class PendingTime
{
    private readonly Task<CommitSeconds> _read;
    private readonly long _epoch;
    private readonly ConcurrentQueue<string>? _messages;
    private readonly Action<string> _log;

    /// <param name="read">The commit's time, or null when git could not tell.</param>
    /// <param name="epoch"><c>SOURCE_DATE_EPOCH</c>: the time without one.</param>
    /// <param name="messages">What the read said, for the plan's log.</param>
    /// <param name="log">The plan's log.</param>
    public PendingTime(Task<CommitSeconds> read, long epoch, ConcurrentQueue<string>? messages, Action<string> log) => (_read, _epoch, _messages, _log) = (read, epoch, messages, log);

    /// <summary>The commit asked about, or null without one.</summary>
    public string? Commit { get; init; }

    /// <summary>What the next publish may take as it is: "id seconds" when the commit's time was found, else null.</summary>
    public string? Record => Commit is not null && _read.IsCompletedSuccessfully && _read.Result.Seconds is { } seconds
        ? $"{Commit} {seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : null;

    /// <summary>Seconds since 1970.</summary>
    public long Value
    {
        get
        {
            long seconds = _read.GetAwaiter().GetResult().Seconds ?? _epoch;
            while (_messages is not null && _messages.TryDequeue(out string? message))
            {
                _log(message);
            }

            return seconds;
        }
    }

    /// <summary>Waits for the read, whatever it gave, and logs what it said, without throwing (a failed plan's end).</summary>
    public void Settle()
    {
        try
        {
            _read.Wait(CancellationToken.None);
        }
        catch (AggregateException)
        {
            // Read again, and thrown, by Value when asked.
        }

        while (_messages is not null && _messages.TryDequeue(out string? message))
        {
            _log(message);
        }
    }
}

/// <summary>A commit's time in seconds since 1970, or null when git could not tell (a class: a task of a value type is compiled on each publish).</summary>
internal sealed record CommitSeconds(long? Seconds);
