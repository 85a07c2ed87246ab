using System.Diagnostics;
using System.Globalization;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace OciBundle.Tasks;

/// <summary>
/// Progress for a long step at normal verbosity (<c>-v:n</c>): the engine's detail messages go to the log at low
/// importance as they come, and every <see cref="Interval"/> while the step runs, the last of them is repeated at
/// normal importance with the time so far, so a first sysroot unpack, a cold hash or a push says what it is doing.
/// A step shorter than the interval prints nothing more.
/// </summary>
internal sealed class StepProgress : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    private readonly object _gate = new();
    private readonly TaskLoggingHelper _log;
    private readonly string _prefix;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Timer _timer;
    private string _last = "starting";
    private bool _stopped;

    public StepProgress(TaskLoggingHelper log, string prefix)
    {
        _log = log;
        _prefix = prefix;
        _timer = new Timer(_ => Tick(), null, Interval, Interval);
    }

    /// <summary>A detail message of the engine: logged at low importance, and kept for the next tick.</summary>
    public void Detail(string message)
    {
        lock (_gate)
        {
            _last = message;
            if (!_stopped)
            {
                _log.LogMessage(MessageImportance.Low, message);
            }
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        lock (_gate)
        {
            _stopped = true; // a tick already running logs nothing after this: the task may have returned
        }
    }

    private void Tick()
    {
        lock (_gate)
        {
            if (!_stopped)
            {
                string seconds = _clock.Elapsed.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture);
                _log.LogMessage(MessageImportance.Normal, $"{_prefix}: {seconds} s so far; last: {(_last.Length > 200 ? _last[..200] + "..." : _last)}");
            }
        }
    }
}
