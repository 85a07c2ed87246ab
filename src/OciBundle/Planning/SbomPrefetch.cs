using System.Collections.Concurrent;
using OciBundle.Dotnet;
using OciBundle.Model;
using OciBundle.Spdx;

namespace OciBundle.Planning;

/// <summary>
/// The SBOM's slow inputs, read on other cores while the rest is planned, in two waves: once the app's, its runtime's
/// and the user's files are planned (130 MB of a first publish of a self-contained app, with the app's NuGet package
/// files: a runtime pack is 30-70 MB), and once the closure and the .NET rules have added the sysroot's (ICU's data, the
/// libraries, the time zones). On a first publish these took 200-250 ms of the SBOM step, on a plan thread that waited
/// meanwhile for the package lists. What it found is offered to the SBOM step as the last publish's digests are, so it
/// is reused only while the source keeps the identity it was hashed at (<see cref="FileDigests"/>); whatever it failed
/// at the step does again, and reports as it always did.
/// </summary>
internal sealed class SbomPrefetch
{
    private readonly ConcurrentQueue<string> _messages = new();
    private readonly List<Task<IReadOnlyDictionary<string, string>>> _waves = new();
    private readonly HashSet<string> _sent = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop;
    private Action<string>? _log;
    private IReadOnlyList<DepsLibrary>? _libraries;

    private SbomPrefetch(PlanContext context)
    {
        // Ctrl+C stops it, and so does a plan that ends without the SBOM step asking for it (a failed one: Stop).
        _stop = CancellationTokenSource.CreateLinkedTokenSource(context.Cancel);
        PackageFiles = context.Content.NuGetPackageRoot is { } root ? new NuGetPackageFiles(root, context.Cache.Value, context.Inputs, Log) : null;
        string depsFile = context.Content.DepsFile;
        IReadOnlyList<KeyValuePair<string, string>> compiled = context.Content.RuntimePacks;
        CancellationToken cancel = _stop.Token;
        State.InputLedger inputs = context.Inputs;
        Wave(context, () =>
        {
            // Recorded before it is read, as the SBOM step would: the step takes these libraries instead of reading again.
            inputs.Path(depsFile);
            if (!File.Exists(depsFile))
            {
                _libraries = Array.Empty<DepsLibrary>();
                return;
            }

            IReadOnlyList<DepsLibrary> libraries = DepsJson.Read(depsFile);
            _libraries = libraries;
            foreach ((string id, string version, string? path) in PackageFiles is null ? Enumerable.Empty<(string, string, string?)>() : SbomInventory.PackageFilesOf(libraries, compiled))
            {
                cancel.ThrowIfCancellationRequested();
                PackageFiles!.Find(id, version, path);
            }
        });
    }

    /// <summary>The app's deps.json libraries as the first wave read them (none without a deps.json); null when it failed to: the step reads the file and reports why.</summary>
    public IReadOnlyList<DepsLibrary>? Libraries => _libraries;

    /// <summary>The package files, their digests found (or being found) on the first wave's thread; the SBOM step asks it after <see cref="Finish"/>.</summary>
    public NuGetPackageFiles? PackageFiles { get; }

    /// <summary>Starts it with the files planned so far, with an SBOM to make; null otherwise.</summary>
    public static SbomPrefetch? Start(PlanContext context) => context.Content.Sbom ? new SbomPrefetch(context) : null;

    /// <summary>
    /// Hashes the files planned since the last wave, beside the plan, on every core: the package lists are read by now,
    /// and what is left of the plan before the SBOM step is shorter than this wave, which that step waits for (on 2
    /// cores, one hashing thread left the other idle in that wait: a first publish's plan took 253 ms, 225 ms with two).
    /// </summary>
    public void More(PlanContext context) => Wave(context, () => { }, Environment.ProcessorCount);

    /// <summary>
    /// Waits for it, logs its messages on this thread (and what it logs from now on), and gives the digests it found by
    /// source (<c>identity\tdigest</c>, as the state keeps them); those of a wave that failed the SBOM step finds itself.
    /// </summary>
    public IReadOnlyDictionary<string, string> Finish(Action<string> log)
    {
        Settle();
        while (_messages.TryDequeue(out string? message))
        {
            log(message);
        }

        _log = log;
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Task<IReadOnlyDictionary<string, string>> wave in _waves.Where(w => w.IsCompletedSuccessfully))
        {
            foreach ((string source, string digest) in wave.Result)
            {
                found[source] = digest;
            }
        }

        return found;
    }

    /// <summary>
    /// The plan's end, failed or not: what is still hashing is stopped (a failed plan does not wait for 130 MB to be
    /// hashed for an SBOM it will not make; a finished one has settled every wave already) and waited for.
    /// </summary>
    public void Stop()
    {
        _stop.Cancel();
        Settle();
        _stop.Dispose();
    }

    /// <summary>Waits for every wave, whatever it ends with: none outlives the plan.</summary>
    private void Settle()
    {
        foreach (Task wave in _waves)
        {
            try
            {
                wave.Wait(CancellationToken.None);
            }
            catch (AggregateException)
            {
                // What failed is done again by the SBOM step, which reports it as itself.
            }
        }
    }

    /// <summary>Hashes the files planned and not yet sent, then <paramref name="then"/>, on <paramref name="threads"/> threads (0: <see cref="Threads"/>).</summary>
    private void Wave(PlanContext context, Action then, int threads = 0)
    {
        // Taken here, on the plan's thread: the plan goes on adding to both while the wave runs.
        var files = context.Plan.Entries.Where(e => e.Kind == RootfsEntryKind.File && e.SourcePath is { } source && _sent.Add(source)).ToList();
        Storage.DigestCache? cache = context.Cache.Value;
        IReadOnlyDictionary<string, string>? known = context.KnownDigests;
        CancellationToken cancel = _stop.Token;
        _waves.Add(Task.Run(() =>
        {
            IReadOnlyDictionary<string, string> bySource = FileDigests.Compute(files, new Dictionary<string, string>(), known, cache, cancel, threads > 0 ? threads : Threads).BySource;
            then();
            return bySource;
        }, cancel));
    }

    /// <summary>
    /// The first wave hashes on all cores but one: the plan's thread keeps one, and so does the reading of the package
    /// lists, which the plan soon waits for (on 2 cores, hashing on both made that wait 60-90 ms longer).
    /// </summary>
    private static int Threads => Math.Max(1, Environment.ProcessorCount - 1);

    private void Log(string message)
    {
        if (_log is { } log)
        {
            log(message);
        }
        else
        {
            _messages.Enqueue(message);
        }
    }
}
