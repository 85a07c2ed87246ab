// Measures the bundle step against its baselines, side by side, in one run, and prints ratios.
// Usage: OciBundle.Bench <publish-dir> <app-name> <work-dir> [--quick]
//        OciBundle.Bench --peak-memory <publish-dir> <app-name> <bundle-dir> [<image-dir>]   (child mode: prints VmHWM in KiB)
//        OciBundle.Bench --plan-times <publish-dir> <app-name> <bundle-dir>   (plan and write times, with and without the SBOM)
//        OciBundle.Bench --plan-loop <publish-dir> <app-name> <bundle-dir> <n>   (n full writes, for dotnet-trace)
using System.Diagnostics;
using System.Globalization;
using Newtonsoft.Json.Linq;
using OciBundle;
using OciBundle.Closure;
using OciBundle.Model;
using OciBundle.Request;
using OciBundle.Sysroots;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
if (args[0] == "--peak-memory")
{
    if (args.Length > 4)
    {
        Build(args[1], args[2], null, state: null, image: args[4]); // the image alone
    }
    else
    {
        Build(args[1], args[2], args[3], state: null);
    }

    Console.WriteLine(File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("VmHWM:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    return 0;
}

if (args[0] == "--plan-loop")
{
    // For a profiler: full plans with the SBOM, again and again.
    for (int i = 0; i < int.Parse(args[4]); i++)
    {
        Reset(args[3]);
        Build(args[1], args[2], args[3], null, sbom: true);
    }

    return 0;
}

if (args[0] == "--plan-times")
{
    // Where a full write's time goes, with and without the SBOM: median plan and write times of 9 runs each.
    foreach (bool withSbom in new[] { true, false, true, false })
    {
        var plans = new List<double>();
        var writes = new List<double>();
        for (int i = 0; i < 9; i++)
        {
            Reset(args[3]);
            BundleResult r = Build(args[1], args[2], args[3], null, sbom: withSbom);
            plans.Add(r.PlanTime.TotalMilliseconds);
            writes.Add(r.WriteTime.TotalMilliseconds);
        }

        Console.WriteLine($"sbom={withSbom}: plan {plans.Order().ElementAt(4):F0} ms, write {writes.Order().ElementAt(4):F0} ms");
    }

    return 0;
}

string publish = Path.GetFullPath(args[0]), app = args[1], work = Path.GetFullPath(args[2]);
bool quick = args.Contains("--quick");
int runs = quick ? 3 : 7;
Directory.CreateDirectory(work);
var rows = new List<(string Measure, string Ours, string Baseline, string Ratio, string Target, bool? Met)>();

// 1. The bundle step (engine, fresh destination, warm cache) vs cp -a of the finished bundle vs the lddtree pipeline.
string bundle = Path.Combine(work, "bundle");
Build(publish, app, bundle, null); // warm the page cache and the JIT
string copy = Path.Combine(work, "cp-copy");
// Interleaved (ours, baseline, ours, ...), each after a sync, so both see the same machine: shared disks are noisy.
(double ours, double cp) = Compare(runs,
    () => { Reset(bundle); return Time(() => Build(publish, app, bundle, null)); },
    () => { Reset(copy); return Time(() => Run("cp", "-a", bundle, copy)); });
Reset(copy);
rows.Add(("bundle step vs cp -a of the bundle", Ms(ours), Ms(cp) + " (cp -a)", Ratio(ours, cp), "<= 1.5x", ours <= 1.5 * cp));

// What the SBOM costs. The first publish on a machine hashes every file (no digest cache yet)...
(double cold, double cpCold) = Compare(runs,
    () => { Reset(bundle); Reset(Cache); return Time(() => Build(publish, app, bundle, null)); },
    () => { Reset(copy); return Time(() => Run("cp", "-a", bundle, copy)); });
Reset(copy);
rows.Add(("bundle step, first on this machine (SBOM digests not cached) vs cp -a", Ms(cold), Ms(cpCold) + " (cp -a)", Ratio(cold, cpCold), "report", null));

// ...and the same step without the SBOM at all (no file is read to be hashed).
(double bare, double cpBare) = Compare(runs,
    () => { Reset(bundle); return Time(() => Build(publish, app, bundle, null, sbom: false)); },
    () => { Reset(copy); return Time(() => Run("cp", "-a", bundle, copy)); });
Reset(copy);
rows.Add(("bundle step without the SBOM (OciBundleSbom=false) vs cp -a", Ms(bare), Ms(cpBare) + " (cp -a)", Ratio(bare, cpBare), "<= 1.0x", bare <= cpBare));

string[] elfFiles = Directory.EnumerateFiles(publish).Where(OciBundle.Elf.ElfFile.HasElfMagic).Order().ToArray();
string? lddtree = Which("lddtree");
bool haveLddtree = lddtree is not null && File.Exists("/usr/bin/python3") && Run("/usr/bin/python3", "-c", "import elftools") == 0;
if (haveLddtree)
{
    // What it replaces: copy the app, lddtree --copy-to-tree its ELF files, runc spec. It copies less and misses ICU.
    string tree = Path.Combine(work, "lddtree-bundle");
    (double ours2, double pipeline) = Compare(runs,
        () => { Reset(bundle); return Time(() => Build(publish, app, bundle, null)); },
        () =>
        {
            Reset(tree);
            return Time(() =>
            {
                Directory.CreateDirectory(Path.Combine(tree, "rootfs"));
                Run("cp", "-a", publish, Path.Combine(tree, "rootfs", "app"));
                Run(new[] { "/usr/bin/python3", lddtree!, "--copy-to-tree", Path.Combine(tree, "rootfs") }.Concat(elfFiles).ToArray());
                Run("runc", "spec", "--bundle", tree);
            });
        });
    Reset(tree);
    rows.Add(("bundle step vs lddtree --copy-to-tree + runc spec", Ms(ours2), Ms(pipeline) + " (lddtree)", Ratio(ours2, pipeline), "<= 1.0x", ours2 <= pipeline));

    // 2. Closure discovery alone, over the app's ELF files, vs lddtree -l on the same files.
    double closure = Median(runs * 3, i => Time(() => Closure(publish, elfFiles)));
    double lddList = Median(runs, i => Time(() => Run(new[] { "/usr/bin/python3", lddtree!, "-l" }.Concat(elfFiles).ToArray())));
    rows.Add(($"closure discovery of {elfFiles.Length} ELF files vs lddtree -l", Ms(closure), Ms(lddList) + " (lddtree -l)", Ratio(closure, lddList), "< 30 ms and <= 0.1x", closure < 30 && closure <= 0.1 * lddList));
}
else
{
    double closure = Median(runs * 3, i => Time(() => Closure(publish, elfFiles)));
    rows.Add(($"closure discovery of {elfFiles.Length} ELF files", Ms(closure), "lddtree not installed", "-", "< 30 ms", closure < 30));
}

Reset(bundle);
Build(publish, app, bundle, null);

// 3. Reusing a previous bundle after an app change: only the app's changed files are copied.
string state = Path.Combine(work, "state.json");
Reset(bundle);
Build(publish, app, bundle, state);
string dll = Path.Combine(publish, app + ".dll");
double incremental = Median(runs, i => { File.SetLastWriteTimeUtc(dll, DateTime.UtcNow.AddSeconds(i + 1)); return Time(() => Build(publish, app, bundle, state)); });
rows.Add(("rebuild after an app change (unchanged files reused)", Ms(incremental), Ms(ours) + " (full)", Ratio(incremental, ours), "well under 1x", incremental < ours));

// 4. Memory: peak RSS building this bundle vs building it with 1 GiB more in a few large files (same file count, 8x
//    the bytes): copies stream through the kernel, so the bytes must not show. Per-file metadata does grow with the
//    file count; the synthetic 20,000-file tree shows by how much.
string self = Environment.ProcessPath!;
string heavy = Path.Combine(work, "heavy-publish");
Reset(heavy);
Run("cp", "-a", publish, heavy);
Synthesize(Path.Combine(heavy, "blobs"), quick ? 256L << 20 : 1L << 30, 16, largeOnly: true);
long peakSmall = PeakMemory(self, publish, app, Path.Combine(work, "mem-small"));
long peakHeavy = PeakMemory(self, heavy, app, Path.Combine(work, "mem-heavy"));
rows.Add(($"peak RSS: {Size(Dir(heavy))} bundle vs {Size(Dir(publish))} app, same file count", $"{peakHeavy / 1024} MiB", $"{peakSmall / 1024} MiB", Ratio(peakHeavy, peakSmall), "flat (<= 1.2x)", peakHeavy <= 1.2 * peakSmall));
Reset(heavy);

string big = Path.Combine(work, "synthetic-publish");
long bytes = quick ? 256L << 20 : 1L << 30;
int files = quick ? 5_000 : 20_000;
Reset(big);
Run("cp", "-a", publish, big);
Synthesize(Path.Combine(big, "data"), bytes - Dir(publish), files, largeOnly: false);
long peakMany = PeakMemory(self, big, app, Path.Combine(work, "mem-many"));
rows.Add(($"peak RSS: {files:N0}-file bundle vs {Directory.EnumerateFiles(publish).Count()}-file app", $"{peakMany / 1024} MiB", $"{peakSmall / 1024} MiB", Ratio(peakMany, peakSmall), "report (metadata per file)", null));

// 5. Linear in bytes and files: the synthetic tree vs cp -a of it.
string bigBundle = Path.Combine(work, "big-bundle");
string bigCopy = Path.Combine(work, "big-cp");
Build(big, app, bigBundle, null);
(double oursBig, double cpBig) = Compare(quick ? 1 : 3,
    () => { Reset(bigBundle); return Time(() => Build(big, app, bigBundle, null)); },
    () => { Reset(bigCopy); return Time(() => Run("cp", "-a", bigBundle, bigCopy)); });
rows.Add(($"synthetic {Size(bytes)} / {files:N0}-file publish vs cp -a", Ms(oursBig), Ms(cpBig) + " (cp -a)", Ratio(oursBig, cpBig), "<= 1.5x", oursBig <= 1.5 * cpBig));
Reset(bigBundle);
Reset(Path.Combine(work, "big-cp"));
Reset(big);

// 6. The image. Its baselines compress the same rootfs (the bundle's, just written) into a file. The quick mode
//    (what CI runs) times each image row once: gzip -6 alone takes seconds.
int imageRuns = quick ? 1 : runs;
Reset(bundle);
Build(publish, app, bundle, null);
string rootfs = Path.Combine(bundle, "rootfs");
string layout = Path.Combine(work, "image");
string tgz = Path.Combine(work, "rootfs.tar.gz");
BundleResult full = Build(publish, app, null, null, image: layout); // warm
(double imageFull, double gzip) = Compare(imageRuns,
    () => { Reset(layout); return Time(() => Build(publish, app, null, null, image: layout)); },
    () => Time(() => Run("sh", "-c", $"tar -C '{rootfs}' -cf - . | gzip -6 > '{tgz}'")));
long ourBytes = full.Image!.Layers.Sum(l => l.Size);
rows.Add(("full image write vs tar | gzip -6 of the same rootfs", Ms(imageFull), Ms(gzip) + " (gzip -6)", Ratio(imageFull, gzip), "<= 0.35x", imageFull <= 0.35 * gzip));
if (Which("pigz") is not null)
{
    (double imageFull2, double pigz) = Compare(imageRuns,
        () => { Reset(layout); return Time(() => Build(publish, app, null, null, image: layout)); },
        () => Time(() => Run("sh", "-c", $"tar -C '{rootfs}' -cf - . | pigz -6 > '{tgz}'")));
    long pigzBytes = new FileInfo(tgz).Length;
    rows.Add(($"full image write vs tar | pigz -6 ({Environment.ProcessorCount} cores)", Ms(imageFull2), Ms(pigz) + " (pigz -6)", Ratio(imageFull2, pigz), "<= 0.7x", imageFull2 <= 0.7 * pigz));
    rows.Add(("compressed size: the image's layers vs tar | pigz -6", Size(ourBytes), Size(pigzBytes), Ratio(ourBytes, pigzBytes), "report (same level, 6)", null));
}
else
{
    rows.Add(("full image write vs tar | pigz -6", Ms(imageFull), "pigz not installed", "-", "<= 0.7x", null));
}

File.Delete(tgz);

// An app change with the previous layout and state: only the app layer is written again.
string imageState = Path.Combine(work, "image-state.json");
Reset(layout);
Build(publish, app, null, imageState, image: layout);
double imageIncremental = Median(runs, i => { File.SetLastWriteTimeUtc(dll, DateTime.UtcNow.AddSeconds(100 + i)); return Time(() => Build(publish, app, null, imageState, image: layout)); });
rows.Add(("image after an app change vs a full image write", Ms(imageIncremental), Ms(imageFull) + " (full)", Ratio(imageIncremental, imageFull), "<= 0.1x", imageIncremental <= 0.1 * imageFull));

// The same digests from a clean build, from a build that reused layers, and on one core (taskset).
File.SetLastWriteTimeUtc(dll, DateTime.UtcNow.AddSeconds(200)); // an app change: the other layers are reused
BundleResult reusedBuild = Build(publish, app, null, imageState, image: layout);
string reusedDigest = reusedBuild.Image!.ManifestDigest;
bool reused = !reusedBuild.UpToDate && reusedBuild.Image.Details.Count(l => l.Reused) == reusedBuild.Image.Details.Count - 1;
Reset(layout);
string cleanDigest = Build(publish, app, null, null, image: layout).Image!.ManifestDigest;
string? oneCoreDigest = null;
if (Which("taskset") is not null)
{
    Reset(layout);
    PeakMemory(self, publish, app, layout, image: true, taskset: "0");
    oneCoreDigest = JObject.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))["manifests"]![0]!["digest"]!.ToString();
}

// Met only when the reuse build did reuse (all layers but the app's) and a one-core run happened: equal digests of
// an image that was simply not rebuilt would prove nothing.
bool same = reused && reusedDigest == cleanDigest && oneCoreDigest == cleanDigest;
rows.Add(("manifest digest: clean build, after layer reuse, 1 core (taskset)", cleanDigest[..19], $"{reusedDigest[..19]}{(reused ? "" : " (no layer reused!)")}, {(oneCoreDigest ?? "no taskset")[..Math.Min(19, (oneCoreDigest ?? "no taskset").Length)]}", "-", "all equal", same));

// Both outputs in one publish vs the image alone and the bundle alone.
string both = Path.Combine(work, "both-bundle");
(double together, double imageAlone) = Compare(imageRuns,
    () => { Reset(both); Reset(layout); return Time(() => Build(publish, app, both, null, image: layout)); },
    () => { Reset(layout); return Time(() => Build(publish, app, null, null, image: layout)); });
rows.Add(("bundle + image in one publish vs the image alone", Ms(together), Ms(imageAlone) + " (image)", Ratio(together, imageAlone), "<= 1.2x", together <= 1.2 * imageAlone));
Reset(both);

// zstd layers (OciImageLayerCompression=zstd) next to gzip ones.
string zlayout = Path.Combine(work, "image-zstd");
(double zstdFull, double gzipFull) = Compare(imageRuns,
    () => { Reset(zlayout); return Time(() => Build(publish, app, null, null, image: zlayout, compression: "zstd")); },
    () => { Reset(layout); return Time(() => Build(publish, app, null, null, image: layout)); });
long zstdBytes = Build(publish, app, null, null, image: zlayout + "2", compression: "zstd").Image!.Layers.Sum(l => l.Size);
Reset(zlayout);
Reset(zlayout + "2");
rows.Add(("zstd image write vs gzip image write (time; size)", $"{Ms(zstdFull)}; {Size(zstdBytes)}", $"{Ms(gzipFull)}; {Size(ourBytes)}", $"{Ratio(zstdFull, gzipFull)}; {Ratio(zstdBytes, ourBytes)}", "report", null));

// Memory: the image of the app with 1 GiB more in large files vs the app's: layers stream, so the bytes must not show.
Reset(heavy);
Run("cp", "-a", publish, heavy);
Synthesize(Path.Combine(heavy, "blobs"), quick ? 256L << 20 : 1L << 30, 16, largeOnly: true);
long imagePeakSmall = PeakMemory(self, publish, app, Path.Combine(work, "mem-image-small"), image: true);
long imagePeakHeavy = PeakMemory(self, heavy, app, Path.Combine(work, "mem-image-heavy"), image: true);
rows.Add(($"peak RSS, image: {Size(Dir(heavy))} vs {Size(Dir(publish))} app", $"{imagePeakHeavy / 1024} MiB", $"{imagePeakSmall / 1024} MiB", Ratio(imagePeakHeavy, imagePeakSmall), "flat (<= 1.2x)", imagePeakHeavy <= 1.2 * imagePeakSmall));
Reset(heavy);
Reset(layout);

Console.WriteLine();
Console.WriteLine($"OciBundle.Sdk benchmark: {app}, {elfFiles.Length} ELF files, median of {runs} runs, warm cache, {Environment.ProcessorCount} cores");
Console.WriteLine();
Console.WriteLine("| measure | OciBundle | baseline | ratio | target | met |");
Console.WriteLine("|---|---|---|---|---|---|");
foreach (var r in rows)
{
    Console.WriteLine($"| {r.Measure} | {r.Ours} | {r.Baseline} | {r.Ratio} | {r.Target} | {(r.Met switch { true => "yes", false => "NO", null => "-" })} |");
}

// 7. What is in the rootfs, by kind.
Console.WriteLine();
Console.WriteLine("| rootfs part | files | size |");
Console.WriteLine("|---|---|---|");
var report = JObject.Parse(File.ReadAllText(Path.Combine(bundle, "provenance.json")));
var parts = report["files"]!.Where(f => (string)f["type"]! == "file").GroupBy(f => Part((string)f["path"]!, (string)f["reason"]!, (string?)f["source"]));
foreach (var part in parts.OrderBy(p => p.Key))
{
    Console.WriteLine($"| {part.Key} | {part.Count():N0} | {Size(part.Sum(f => (long)f["size"]!))} |");
}

Console.WriteLine($"| total | {(int)report["fileCount"]!:N0} | {Size((long)report["totalBytes"]!)} |");
return 0;

static string Part(string path, string reason, string? source) =>
    path.StartsWith("/app/") ? "app (publish output, with the .NET runtime of a self-contained app)"
    : path.StartsWith("/usr/share/dotnet/") ? ".NET shared frameworks and host"
    : source is not null && OciBundle.Elf.ElfFile.HasElfMagic(source) ? "native libraries (ELF closure, ICU, OpenSSL)"
    : "data files (tzdata, CA certificates, passwd)";

static BundleResult Build(string publish, string app, string? bundle, string? state, bool? sbom = null, string? image = null, string? compression = null)
{
    Directory.CreateDirectory(Cache, (UnixFileMode)0b111_000_000);
    // What the SDK's targets pass by default, read from the targets themselves (the one place defaults live).
    string targets = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "OciBundle.Sdk.targets"));
    string Default(string name) => System.Text.RegularExpressions.Regex.Match(targets, $@"<{name} Condition=""'\$\({name}\)' == ''(?: and [^""]*)?"">(?<v>[^<]*)</{name}>").Groups["v"].Value;
    List<string> Words(string name) => Default(name).Split(';').ToList();
    return BundleBuilder.Build(
        new BundleOptions
        {
            PublishDirectory = publish, BundleDirectory = bundle ?? "", AppName = app, AppHost = app, WriteBundle = bundle is not null,
            ImageDirectory = image, ImageRepository = app.ToLowerInvariant(), RuntimeFiles = RuntimePackFiles(publish, app),
            OS = Default("OciBundleOS"), WorkingDirectory = Default("OciBundleWorkingDirectory"), User = Default("OciBundleUser"),
            SpecVersion = Default("OciBundleSpecVersion"), Network = Default("OciBundleNetwork"), Sysroot = Default("OciBundleSysroot"),
            IncludeTimeZoneData = bool.Parse(Default("OciBundleIncludeTimeZoneData")), NoNewPrivileges = bool.Parse(Default("OciBundleNoNewPrivileges")),
            ReadOnly = bool.Parse(Default("OciBundleReadOnly")), Sbom = sbom ?? bool.Parse(Default("OciBundleSbom")), Capabilities = Words("OciBundleCapabilities"), RootCapabilities = Words("OciBundleRootCapabilities"),
            Seccomp = Default("OciBundleSeccomp"), MaskedPaths = Words("OciBundleMaskedPaths"), ReadonlyPaths = Words("OciBundleReadonlyPaths"),
            SourceDateEpoch = "315532800", ImageTag = Default("OciImageTag"), ImageLayerCompression = compression ?? Default("OciImageLayerCompression"), ImageLayering = Default("OciImageLayering"), CacheDirectory = Cache,
        },
        _ => { },
        _ => { },
        state);
}

// What the targets pass as RuntimeFiles (@(RuntimePackAsset)): the runtime pack's files, which deps.json lists.
static List<string> RuntimePackFiles(string publish, string app)
{
    string deps = Path.Combine(publish, app + ".deps.json");
    if (!File.Exists(deps)) return new List<string>();
    var targets = (JObject)JObject.Parse(File.ReadAllText(deps))["targets"]!;
    return targets.Properties().SelectMany(t => ((JObject)t.Value).Properties())
        .Where(l => l.Name.StartsWith("runtimepack.", StringComparison.Ordinal))
        .SelectMany(l => new[] { "runtime", "native" }.SelectMany(k => (l.Value[k] as JObject)?.Properties().Select(p => Path.GetFileName(p.Name)) ?? Enumerable.Empty<string>()))
        .Distinct().ToList();
}

static void Closure(string publish, string[] elfFiles)
{
    var arch = TargetArchitecture.Find("amd64", out _)!;
    var sysroot = new SysrootView("/");
    var plan = new RootfsPlan();
    var builder = new ClosureBuilder(sysroot, arch, plan, LibraryResolver.ForSysroot(sysroot, arch, plan), _ => { });
    foreach (string f in elfFiles)
    {
        string path = "/app/" + Path.GetFileName(f);
        plan.AddFile(path, f, (UnixFileMode)0b111_101_101, 0, "app");
        builder.AddPlannedFile(path, f);
    }

    builder.Complete();
}

static long PeakMemory(string self, string publish, string app, string bundle, bool image = false, string? taskset = null)
{
    var psi = new ProcessStartInfo(taskset is null ? self : "taskset") { RedirectStandardOutput = true };
    if (taskset is not null)
    {
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(taskset);
        psi.ArgumentList.Add(self);
    }

    if (Path.GetFileNameWithoutExtension(self) == "dotnet")
    {
        psi.ArgumentList.Add(typeof(BundleOptions).Assembly.Location.Replace("OciBundle.dll", "OciBundle.Bench.dll"));
    }

    foreach (string a in new[] { "--peak-memory", publish, app, bundle }) psi.ArgumentList.Add(a);
    if (image) psi.ArgumentList.Add(bundle);
    using var p = Process.Start(psi)!;
    string output = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (taskset is null) Reset(bundle);
    return long.Parse(output.Trim().Split('\n').Last());
}

// Files of mixed sizes (most small, every 1000th large), or only large ones, adding up to the given bytes.
static void Synthesize(string dir, long bytes, int files, bool largeOnly)
{
    long remaining = bytes;
    var random = new Random(42);
    byte[] buffer = new byte[1 << 20];
    random.NextBytes(buffer);
    for (int i = 0; i < files && remaining > 0; i++)
    {
        long size = largeOnly ? bytes / files : i % 1000 == 0 ? Math.Min(remaining, 64L << 20) : Math.Min(remaining, random.Next(1, 48 << 10));
        string sub = Path.Combine(dir, (i % 100).ToString("D2"));
        Directory.CreateDirectory(sub);
        using var f = File.Create(Path.Combine(sub, $"f{i}.bin"));
        for (long w = 0; w < size; w += buffer.Length) f.Write(buffer, 0, (int)Math.Min(buffer.Length, size - w));
        remaining -= size;
    }
}

static (double A, double B) Compare(int n, Func<double> a, Func<double> b)
{
    var xs = new List<double>();
    var ys = new List<double>();
    for (int i = 0; i < n; i++)
    {
        Run("sync");
        xs.Add(a());
        Run("sync");
        ys.Add(b());
    }

    return (xs.Order().ElementAt(n / 2), ys.Order().ElementAt(n / 2));
}

static double Median(int n, Func<int, double> measure)
{
    var samples = Enumerable.Range(0, n).Select(measure).Order().ToArray();
    return samples[samples.Length / 2];
}

static double Time(Action action)
{
    var sw = Stopwatch.StartNew();
    action();
    return sw.Elapsed.TotalMilliseconds;
}

static int Run(params string[] command)
{
    var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (string a in command.Skip(1)) psi.ArgumentList.Add(a);
    using var p = Process.Start(psi)!;
    p.StandardOutput.ReadToEnd();
    p.StandardError.ReadToEnd();
    p.WaitForExit();
    return p.ExitCode;
}

static string? Which(string name) => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

static void Reset(string dir)
{
    if (Directory.Exists(dir)) Directory.Delete(dir, true);
}

static long Dir(string dir) => Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

static string Ms(double ms) => $"{ms:F0} ms";

static string Ratio(double a, double b) => b <= 0 ? "-" : $"{a / b:F2}x";

static string Size(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F1} GiB" : $"{bytes / (double)(1 << 20):F1} MiB";

/// <summary>The bench's own OciBundleCacheDir (the SBOM's digest cache), in the work folder.</summary>
internal static partial class Program
{
    internal static string Cache => Path.Combine(Environment.GetEnvironmentVariable("OCIBUNDLE_BENCH_WORK") ?? Path.GetTempPath(), "ocibundle-bench-cache");
}
