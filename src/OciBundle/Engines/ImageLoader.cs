using System.Diagnostics;
using System.Formats.Tar;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;

namespace OciBundle.Engines;

/// <summary>What a load did: the name the engine's store now has the image under, and how long it took.</summary>
internal sealed record LoadedImage(string Engine, string Reference, TimeSpan Elapsed, bool AlreadyThere);

/// <summary>
/// <c>OciImageLoad</c>: puts a written image layout into a local engine's store (podman's, docker's) through the
/// engine's own CLI, as <c>podman load</c> / <c>docker load</c> of an OCI archive streamed to its standard input, under
/// the name the layout gives it (<c>io.containerd.image.name</c>: <c>localhost/&lt;repository&gt;:&lt;tag&gt;</c>). Never
/// through a socket of its own: what the engine's CLI reaches (DOCKER_HOST, podman's connections) is what gets the image.
/// </summary>
internal static class ImageLoader
{
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LoadTimeout = TimeSpan.FromMinutes(10);

    /// <summary>The engines <c>OciImageLoad</c> may name, with the Debian package that installs each.</summary>
    private static readonly Dictionary<string, string> Packages = new(StringComparer.Ordinal) { ["podman"] = "podman", ["docker"] = "docker.io" };

    /// <summary>
    /// Before anything is written: the value names an engine, one architecture is asked for, the CLI is on
    /// <paramref name="searchPath"/> and its engine answers. Returns the CLI's full path; throws the coded reason otherwise.
    /// </summary>
    public static string Check(string engine, string? imageRuntimeIdentifiers, string? searchPath, string layoutDirectory)
    {
        if (!Packages.TryGetValue(engine, out string? package))
        {
            throw new OciBundleException(Strings.ImageLoadUnknownEngine, engine);
        }

        string[] rids = (imageRuntimeIdentifiers ?? "").Split(new[] { ';', ',' }, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (rids.Length > 1)
        {
            throw new OciBundleException(Strings.ImageLoadSeveralArchitectures, engine, string.Join(";", rids));
        }

        string program = FindOnPath(engine, searchPath)
            ?? throw new OciBundleException(Strings.ImageLoadEngineMissing, engine, package, layoutDirectory);

        // Both CLIs answer 'version' with the server's version, and fail when they cannot reach it (docker's daemon, a podman machine).
        (int code, string output, string error) = Run(program, new[] { "version", "--format", "{{.Server.Version}}" }, null, CheckTimeout);
        if (code != 0 || output.Trim().Length == 0)
        {
            string fix = engine == "docker"
                ? "Start its daemon (sudo systemctl start docker), point DOCKER_HOST at a running one, or load into podman, which needs no daemon: OciImageLoad=podman."
                : "See 'podman info': a podman machine or remote connection must be running (podman machine start), or unset CONTAINER_HOST.";
            throw new OciBundleException(Strings.ImageLoadEngineNotRunning, engine, LastLine(error, output, code), fix);
        }

        return program;
    }

    /// <summary>Loads the layout into the engine and makes sure it is known by the layout's name; throws OCIB4004 when the engine refuses it.</summary>
    public static LoadedImage Load(string engine, string program, string layoutDirectory, Action<string> log, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        (string reference, string[] digests) = ImageIdentity(layoutDirectory);
        (int known, string id, _) = Run(program, new[] { "image", "inspect", "--format", "{{.Id}}", reference }, null, CheckTimeout);
        if (known == 0 && digests.Contains(id.Trim().Replace("sha256:", "", StringComparison.Ordinal), StringComparer.Ordinal))
        {
            log($"{engine} already has {reference} as image {id.Trim()}, this layout's: nothing to load");
            return new LoadedImage(engine, reference, clock.Elapsed, AlreadyThere: true);
        }

        log($"{engine} load: the layout {layoutDirectory} as an OCI archive on its standard input, to be {reference}");
        (int code, string output, string error) = Run(program, new[] { "load" }, stdin => WriteArchive(layoutDirectory, stdin, cancel), LoadTimeout);
        log($"{engine} load said: {output.Trim()} {error.Trim()}");
        if (code != 0)
        {
            throw new OciBundleException(Strings.ImageLoadFailed, engine, reference, code, LastLine(error, output, code));
        }

        // podman names the image by the layout's annotation; an engine that names it otherwise (or by ID alone) is told the name.
        string? loaded = output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("Loaded image", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf(':') + 1)..].Trim()).FirstOrDefault();
        if (loaded is null)
        {
            throw new OciBundleException(Strings.ImageLoadFailed, engine, reference, code, $"it did not say which image it loaded: {LastLine(error, output, code)}");
        }

        if (!loaded.Split(',').Select(n => n.Trim()).Contains(reference, StringComparer.Ordinal))
        {
            (int tagged, string tagOutput, string tagError) = Run(program, new[] { "tag", loaded.Split(',')[0].Trim(), reference }, null, CheckTimeout);
            if (tagged != 0)
            {
                throw new OciBundleException(Strings.ImageLoadFailed, engine, reference, tagged, $"it loaded {loaded}, and '{engine} tag' refused the name: {LastLine(tagError, tagOutput, tagged)}");
            }
        }

        return new LoadedImage(engine, reference, clock.Elapsed, AlreadyThere: false);
    }

    /// <summary>
    /// The name the layout gives its image (the <c>io.containerd.image.name</c> annotation of its manifest), and the
    /// hex digests an engine may call it by: podman's and docker's image ID is the config's, containerd's store the manifest's.
    /// </summary>
    private static (string Reference, string[] Digests) ImageIdentity(string layoutDirectory)
    {
        JObject index = JObject.Parse(File.ReadAllText(Path.Combine(layoutDirectory, "index.json")));
        JToken manifest = index["manifests"]?.FirstOrDefault() ?? throw new InvalidDataException($"{layoutDirectory}/index.json lists no manifest");
        string reference = (string?)manifest["annotations"]?["io.containerd.image.name"]
            ?? throw new InvalidDataException($"{layoutDirectory}/index.json names no image (io.containerd.image.name)");
        string manifestDigest = ((string?)manifest["digest"] ?? "").Replace("sha256:", "", StringComparison.Ordinal);
        string configDigest = "";
        if (manifestDigest.Length == 64 && manifestDigest.All(char.IsAsciiHexDigitLower))
        {
            JObject body = JObject.Parse(File.ReadAllText(Path.Combine(layoutDirectory, "blobs", "sha256", manifestDigest)));
            configDigest = ((string?)body["config"]?["digest"] ?? "").Replace("sha256:", "", StringComparison.Ordinal);
        }

        return (reference, new[] { manifestDigest, configDigest }.Where(d => d.Length == 64).ToArray());
    }

    /// <summary>The layout as a tar, sorted, on a stream: what <c>skopeo copy ... oci-archive:</c> and <c>OciImageArchive</c> write.</summary>
    private static void WriteArchive(string layout, Stream destination, CancellationToken cancel)
    {
        using var tar = new TarWriter(destination, TarEntryFormat.Pax, leaveOpen: true);
        foreach (string path in Directory.EnumerateFileSystemEntries(layout, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            cancel.ThrowIfCancellationRequested();
            string name = Path.GetRelativePath(layout, path);
            if (Directory.Exists(path))
            {
                tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name + "/"));
                continue;
            }

            using FileStream data = File.OpenRead(path);
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = data });
        }
    }

    private static string? FindOnPath(string name, string? searchPath) =>
        (searchPath ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(candidate => File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0);

    /// <summary>Runs the CLI with its arguments, feeding its standard input (or none), and returns its exit code and output.</summary>
    private static (int Code, string Output, string Error) Run(string program, string[] args, Action<Stream>? input, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(psi)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        try
        {
            input?.Invoke(process.StandardInput.BaseStream);
        }
        catch (IOException)
        {
            // The engine stopped reading (it failed early): its exit code and message below say why.
        }
        finally
        {
            try
            {
                process.StandardInput.Close();
            }
            catch (IOException)
            {
            }
        }

        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, output.Result, $"no answer within {timeout.TotalSeconds:F0} s");
        }

        process.WaitForExit();
        return (process.ExitCode, output.Result, error.Result);
    }

    private static string LastLine(string error, string output, int code) =>
        (error + "\n" + output).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? $"exit code {code}, no message";
}
