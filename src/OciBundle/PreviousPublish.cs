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

    /// <summary>
    /// Starts reading the project whose state is <paramref name="statePath"/> (none: null) on another core, when an
    /// earlier publish made its folder; else it is read when <see cref="Reading.Wait"/> asks, so options refused
    /// meanwhile leave nothing behind in obj/. <paramref name="log"/> says when it waits for another publish.
    /// </summary>
    public static Reading Begin(string? statePath, Action<string> log) => new(statePath, log);

    public void Dispose() => _lock.Dispose();

    private static PreviousPublish Read(string statePath, Action<string> log, CancellationToken abandoned)
    {
        SafeFileHandle projectLock = LockProject(statePath, log, abandoned);
        try
        {
            abandoned.ThrowIfCancellationRequested();
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

    private static SafeFileHandle LockProject(string statePath, Action<string> log, CancellationToken abandoned)
    {
        var timeout = TimeSpan.FromMinutes(5);
        try
        {
            if (StagedDirectory.LockFile(statePath, TimeSpan.Zero) is { } free)
            {
                return free;
            }

            // Said where the progress of a long step shows it (every 2 s at normal verbosity), not "starting".
            log($"Waiting for another publish of this project to finish (it holds {StagedDirectory.LockFilePath(statePath)}).");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed < timeout)
            {
                abandoned.ThrowIfCancellationRequested(); // a refused publish stops waiting within a second
                if (StagedDirectory.LockFile(statePath, TimeSpan.FromSeconds(1)) is { } held)
                {
                    return held;
                }
            }

            throw new OciBundleException(Strings.BundleLocked, Path.GetDirectoryName(Path.GetFullPath(statePath))!, StagedDirectory.LockFilePath(statePath), (int)timeout.TotalSeconds, "another publish of this project");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.StateFolderUnusable, statePath, e.Message.TrimEnd('.'));
        }
    }

    /// <summary>A reading of the last publish, started early or read when asked.</summary>
    internal sealed class Reading
    {
        private readonly string? _statePath;
        private readonly Action<string> _log;
        private readonly CancellationTokenSource _abandoned = new();
        private readonly Task<PreviousPublish>? _early;

        public Reading(string? statePath, Action<string> log)
        {
            (_statePath, _log) = (statePath, log);
            if (statePath is not null && Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(statePath))))
            {
                _early = Task.Run(() => Read(statePath, log, _abandoned.Token));
            }
        }

        /// <summary>The last publish, once read (under its lock, held until it is disposed); null without a state path.</summary>
        public PreviousPublish? Wait() =>
            _statePath is null ? null : _early is not null ? _early.GetAwaiter().GetResult() : Read(_statePath, _log, CancellationToken.None);

        /// <summary>Lets go of a reading whose publish stopped before it was needed (the options were refused): it stops waiting for a lock, and lets go of one it holds, without being waited for here.</summary>
        public void Abandon()
        {
            _abandoned.Cancel();
            _early?.ContinueWith(t => { if (t.IsCompletedSuccessfully) { t.Result.Dispose(); } else { _ = t.Exception; } }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
    }
}
