using Microsoft.Win32.SafeHandles;
using OciBundle.Diagnostics;
using OciBundle.Outputs;
using OciBundle.State;

namespace OciBundle;

/// <summary>
/// What the last publish of a project left, read on another core while the options are parsed (the two take about as
/// long: 15-20 ms each for the sample), under the project's lock: one publish of a project at a time, from reading
/// its state to saving the new one, so a second started meanwhile waits, then finds what the first wrote, never an
/// older state. Its state file, the first of its recorded inputs that changed since, and, when none did, the first of
/// its outputs changed, added to or removed from since it was written. Disposing it releases the lock.
/// </summary>
internal sealed class PreviousPublish : IDisposable
{
    private readonly SafeFileHandle _lock;

    private PreviousPublish(SafeFileHandle projectLock) => _lock = projectLock;

    /// <summary>The state the last publish saved; null when there is none (or none this engine can read).</summary>
    public BuildState? Saved { get; private init; }

    /// <summary>The first recorded input that is no longer as recorded.</summary>
    public string? InputChange { get; private init; }

    /// <summary>The first output no longer as written (looked for only when no input changed: else all is written again).</summary>
    public string? OutputChange { get; private init; }

    /// <summary>How long the reading took, the wait for the lock left out.</summary>
    public TimeSpan Checked { get; private init; }

    /// <summary>Starts the reading of the project whose state is <paramref name="statePath"/>.</summary>
    public static Task<PreviousPublish> Start(string statePath) => Task.Run(() => Read(statePath));

    /// <summary>Lets go of a reading whose publish stopped before it was needed (the options were refused): its lock is released once it ends, without waiting for it here.</summary>
    public static void Abandon(Task<PreviousPublish>? reading) =>
        reading?.ContinueWith(t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);

    public void Dispose() => _lock.Dispose();

    private static PreviousPublish Read(string statePath)
    {
        SafeFileHandle projectLock = LockProject(statePath);
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            BuildState? state = BuildState.Load(statePath);
            string? input = state is null ? null : InputLedger.FirstChange(state.Inputs);
            string? output = state is null || input is not null ? null : FirstOutputChange(state);
            return new PreviousPublish(projectLock) { Saved = state, InputChange = input, OutputChange = output, Checked = clock.Elapsed };
        }
        catch
        {
            projectLock.Dispose();
            throw;
        }
    }

    private static string? FirstOutputChange(BuildState state) =>
        new[] { state.Bundle, state.Image }.OfType<BuildState.OutputRecord>()
            .Select(o => OutputSnapshot.FirstChange(o.Directory, o.Entries) is { } changed ? $"in {o.Directory}, {changed} since it was written" : null)
            .FirstOrDefault(change => change is not null);

    private static SafeFileHandle LockProject(string statePath)
    {
        var timeout = TimeSpan.FromMinutes(5);
        try
        {
            return StagedDirectory.LockFile(statePath, timeout)
                ?? throw new OciBundleException(Strings.BundleLocked, Path.GetDirectoryName(Path.GetFullPath(statePath))!, StagedDirectory.LockFilePath(statePath), (int)timeout.TotalSeconds, "another publish of this project");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.BundleWriteFailed, statePath, e.Message);
        }
    }
}
