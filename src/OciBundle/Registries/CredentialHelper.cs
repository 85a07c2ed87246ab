using System.Diagnostics;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;

namespace OciBundle.Registries;

/// <summary>
/// docker's credential helper protocol: <c>docker-credential-NAME get</c> found on PATH, the server on its stdin, the
/// JSON <c>{"Username", "Secret"}</c> on its stdout, all under one deadline. What a helper prints on failure is never
/// repeated: it could hold a secret.
/// </summary>
internal static class CredentialHelper
{
    /// <summary>
    /// The credentials <c>docker-credential-</c><paramref name="helper"/> gives for <paramref name="serverUrl"/>, found on
    /// the environment's PATH and stopped after <paramref name="timeout"/>; null when it has none (docker's rule:
    /// anonymous). <paramref name="namedBy"/> says where the helper was named (<c>credsStore in ~/.docker/config.json</c>).
    /// </summary>
    public static RegistryCredentials? Get(string helper, string namedBy, string serverUrl, string registry, Func<string, string?> environment, TimeSpan timeout, CancellationToken cancel)
    {
        string program = "docker-credential-" + helper;
        if (helper.Contains('/', StringComparison.Ordinal) || (environment("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists) is not { } path)
        {
            throw new OciBundleException(Strings.CredentialHelperFailed, helper, namedBy, registry, $"{program} is not on PATH");
        }

        (string output, string error, int exit) = Run(path, helper, namedBy, serverUrl, registry, timeout, cancel);
        string said = (error.Trim().Length > 0 ? error : output).Trim();
        if (exit != 0)
        {
            if (said.Contains("credentials not found", StringComparison.OrdinalIgnoreCase))
            {
                return null; // docker's rule: a store without an entry means anonymous
            }

            throw new OciBundleException(Strings.CredentialHelperFailed, helper, namedBy, registry, $"it exited with code {exit} (what it printed is not repeated, as it could hold a secret: run {program} get, with the registry on stdin, to see it)");
        }

        JObject? answer;
        try
        {
            answer = JToken.Parse(output) as JObject;
        }
        catch (JsonException)
        {
            answer = null;
        }

        if (answer is null || answer["Username"] is { Type: not (JTokenType.String or JTokenType.Null) } || answer["Secret"] is { Type: not (JTokenType.String or JTokenType.Null) })
        {
            throw new OciBundleException(Strings.CredentialHelperFailed, helper, namedBy, registry, "its answer is not the JSON {\"Username\": \"...\", \"Secret\": \"...\"} of the credential helper protocol (strings)");
        }

        string user = (string?)answer["Username"] ?? "";
        string secret = (string?)answer["Secret"] ?? "";
        return secret.Length == 0 ? null : new RegistryCredentials(user, secret, program, isIdentityToken: user == "<token>");
    }

    /// <summary>Runs <c>PATH get</c> with the server on stdin: its stdout, stderr and exit code; stopped (its children too) at the deadline or on the build's cancellation.</summary>
    private static (string Output, string Error, int Exit) Run(string path, string helper, string namedBy, string serverUrl, string registry, TimeSpan timeout, CancellationToken cancel)
    {
        var psi = new ProcessStartInfo(path, "get")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new OciBundleException(Strings.CredentialHelperFailed, helper, namedBy, registry, $"{Path.GetFileName(path)} is not on PATH");
        }

        using (process)
        {
            // Both outputs read as they come and the input written alongside, all under one deadline: a helper that
            // hangs, or leaves a child holding its output open, is stopped, and so is one the build cancels.
            Task<string> stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            Task<string> stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            Task stdin = WriteInput(process, serverUrl);
            try
            {
                Task.WhenAll(stdout, stderr, stdin, process.WaitForExitAsync(CancellationToken.None)).WaitAsync(timeout, cancel).GetAwaiter().GetResult();
            }
            catch (TimeoutException)
            {
                Kill(process);
                throw new OciBundleException(Strings.CredentialHelperFailed, helper, namedBy, registry, $"it did not answer within {timeout.TotalSeconds:F0} seconds (it, or a process it started, kept its output open), so it was stopped");
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                throw;
            }

            return (stdout.Result, stderr.Result, process.ExitCode);
        }
    }

    /// <summary>The server on the helper's stdin; a helper that exits without reading it (a broken pipe) is judged by its answer.</summary>
    private static async Task WriteInput(Process process, string serverUrl)
    {
        try
        {
            await process.StandardInput.WriteAsync(serverUrl).ConfigureAwait(false);
            await process.StandardInput.FlushAsync().ConfigureAwait(false);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It did not read the server: its exit code and output say the rest.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Gone already.
        }
    }
}
