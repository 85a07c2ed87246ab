using System.Collections.Concurrent;
using OciBundle.Dotnet;
using OciBundle.Model;
using OciBundle.Spdx;

namespace OciBundle.Planning;

/// <summary>
/// The SBOM's slow inputs, read on other cores while the closure and the .NET rules are planned: the SHA-1 and SHA-256
/// of the files planned by then (the app's, its runtime's and the user's: 130 MB on a first publish of a self-contained
/// app) and the SHA-512 of the app's NuGet package files (a runtime pack is 30-70 MB). On a first publish these took
/// 200-250 ms of the SBOM step, on a plan thread that waited meanwhile for the package lists. What it found is offered
/// to the SBOM step as the last publish's digests are, so it is reused only while the source keeps the identity it was
/// hashed at (<see cref="FileDigests"/>); whatever it failed at the step does again, and reports as it always did.
/// </summary>
internal sealed class SbomPrefetch
{
    private readonly ConcurrentQueue<string> _messages = new();
    private readonly Task<IReadOnlyDictionary<string, string>> _digests;
    private Action<string>? _log;

    private SbomPrefetch(PlanContext context)
    {
        // Taken here, on the plan's thread: the plan goes on adding to both while the prefetch runs.
        var files = context.Plan.Entries.Where(e => e.Kind == RootfsEntryKind.File).ToList();
        Storage.DigestCache? cache = context.Cache.Value;
        IReadOnlyDictionary<string, string>? known = context.KnownDigests;
        string depsFile = context.Content.DepsFile;
        IReadOnlyList<KeyValuePair<string, string>> compiled = context.Content.RuntimePacks;
        PackageFiles = context.Content.NuGetPackageRoot is { } root ? new NuGetPackageFiles(root, cache, context.Inputs, Log) : null;
        CancellationToken cancel = context.Cancel;
        _digests = Task.Run(() =>
        {
            IReadOnlyDictionary<string, string> bySource = FileDigests.Compute(files, new Dictionary<string, string>(), known, cache, cancel).BySource;
            if (PackageFiles is not null && File.Exists(depsFile))
            {
                foreach ((string id, string version, string? path) in SbomInventory.PackageFilesOf(DepsJson.Read(depsFile), compiled))
                {
                    cancel.ThrowIfCancellationRequested();
                    PackageFiles.Find(id, version, path);
                }
            }

            return bySource;
        }, cancel);
    }

    /// <summary>The package files, their digests found (or being found) on the prefetch's thread; the SBOM step asks it after <see cref="Finish"/>.</summary>
    public NuGetPackageFiles? PackageFiles { get; }

    /// <summary>Starts it, with an SBOM to make; null otherwise.</summary>
    public static SbomPrefetch? Start(PlanContext context) => context.Content.Sbom ? new SbomPrefetch(context) : null;

    /// <summary>
    /// Waits for it, logs its messages on this thread (and what it logs from now on), and gives the digests it found by
    /// source (<c>identity\tdigest</c>, as the state keeps them); null when it failed: the SBOM step hashes them itself.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Finish(Action<string> log)
    {
        Settle();
        while (_messages.TryDequeue(out string? message))
        {
            log(message);
        }

        _log = log;
        return _digests.IsCompletedSuccessfully ? _digests.Result : null;
    }

    /// <summary>Waits for it, whatever it ends with: it never outlives the plan.</summary>
    public void Settle()
    {
        try
        {
            _digests.Wait(CancellationToken.None);
        }
        catch (AggregateException)
        {
            // What failed is done again by the SBOM step, which reports it as itself.
        }
    }

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
