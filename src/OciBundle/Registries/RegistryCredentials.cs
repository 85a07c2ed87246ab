using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;
using OciBundle.Request;

namespace OciBundle.Registries;

/// <summary>
/// A user name and secret (or an identity token) for one registry, and where they came from. The secret never
/// leaves this object except into an Authorization header: <see cref="ToString"/> names only the source.
/// </summary>
internal sealed class RegistryCredentials
{
    public RegistryCredentials(string username, string secret, string source, bool isIdentityToken = false)
    {
        Username = username;
        Secret = secret;
        Source = source;
        IsIdentityToken = isIdentityToken;
    }

    public string Username { get; }

    public string Secret { get; }

    /// <summary>Where they came from, for messages: <c>/home/me/.docker/config.json (auths)</c>, <c>docker-credential-pass</c>.</summary>
    public string Source { get; }

    /// <summary>An OAuth2 refresh token (docker's <c>identitytoken</c>), exchanged at the token server instead of a password.</summary>
    public bool IsIdentityToken { get; }

    public string BasicHeader() => Convert.ToBase64String(Encoding.UTF8.GetBytes(Username + ":" + Secret));

    public override string ToString() => "credentials from " + Source;
}

/// <summary>
/// Finds credentials for a registry where docker looks, in docker's order: environment variables first (for CI),
/// then <c>$DOCKER_CONFIG/config.json</c> (or <c>~/.docker/config.json</c>): <c>credHelpers</c> for this registry,
/// else <c>credsStore</c> (each through <see cref="CredentialHelper"/>), else <c>auths</c>.
/// </summary>
internal static class CredentialLookup
{
    public const string UsernameVariable = "OCIBUNDLE_REGISTRY_USERNAME";
    public const string PasswordVariable = "OCIBUNDLE_REGISTRY_PASSWORD";

    /// <summary>The .NET SDK's names for the same, accepted too.</summary>
    private static readonly (string User, string Password)[] Variables = { (UsernameVariable, PasswordVariable), ("DOTNET_CONTAINER_REGISTRY_UNAME", "DOTNET_CONTAINER_REGISTRY_PWORD") };

    /// <summary>The largest config.json read (docker's are a few KiB).</summary>
    private const int MaxConfigBytes = 4 << 20;

    /// <summary>How long a credential helper has to answer.</summary>
    public static readonly TimeSpan HelperTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Credentials for <paramref name="registry"/>, or null with <paramref name="looked"/> saying where none were found.</summary>
    public static RegistryCredentials? Find(string registry, Func<string, string?> environment, Action<string> log, out string looked, CancellationToken cancel = default, TimeSpan? helperTimeout = null)
    {
        foreach ((string user, string password) in Variables)
        {
            if (environment(user) is { Length: > 0 } u && environment(password) is { Length: > 0 } p)
            {
                looked = "";
                return new RegistryCredentials(u, p, $"{user}/{password}");
            }
        }

        string configDir = environment("DOCKER_CONFIG") is { Length: > 0 } d ? d : Path.Combine(environment("HOME") ?? "/", ".docker");
        string configPath = Path.Combine(configDir, "config.json");
        looked = $"no {UsernameVariable}/{PasswordVariable}, and {configPath} has no entry for {registry}";
        if (!File.Exists(configPath))
        {
            looked = $"no {UsernameVariable}/{PasswordVariable}, and no {configPath}";
            return null;
        }

        JObject config = ReadConfig(configPath);
        string key = ImageName.CredentialKey(registry);
        if (config["credHelpers"] is JObject helpers && Lookup(helpers, registry) is JValue { Value: string helper } && helper.Length > 0)
        {
            log($"credentials for {registry}: docker-credential-{helper} (credHelpers in {configPath})");
            return CredentialHelper.Get(helper, $"credHelpers in {configPath}", key, registry, environment, helperTimeout ?? HelperTimeout, cancel);
        }

        if (config["credsStore"] is JValue { Value: string store } && store.Length > 0)
        {
            log($"credentials for {registry}: docker-credential-{store} (credsStore in {configPath})");
            if (CredentialHelper.Get(store, $"credsStore in {configPath}", key, registry, environment, helperTimeout ?? HelperTimeout, cancel) is { } stored)
            {
                return stored;
            }
        }

        return config["auths"] is JObject auths && Lookup(auths, registry) is JObject entry ? FromAuths(entry, registry, configPath, log) : null;
    }

    /// <summary>docker's configuration: a regular file of sane size (checked before it is opened: a FIFO would block the open, /dev/zero never end), a JSON object.</summary>
    private static JObject ReadConfig(string configPath)
    {
        try
        {
            string real = File.ResolveLinkTarget(configPath, returnFinalTarget: true)?.FullName ?? configPath;
            if (Interop.NativeMethods.LStat(real) is not { } st || (st.Mode & Interop.NativeMethods.S_IFMT) != Interop.NativeMethods.S_IFREG)
            {
                throw new OciBundleException(Strings.DockerConfigUnreadable, configPath, real == configPath ? "it is not a regular file (a FIFO, a device or a folder)" : $"it leads to {real}, which is not a regular file (a FIFO, a device or a folder)");
            }

            if (st.Size > MaxConfigBytes)
            {
                throw new OciBundleException(Strings.DockerConfigUnreadable, configPath, $"it is {st.Size} bytes, more than the {MaxConfigBytes} a docker configuration can need");
            }

            using var stream = new FileStream(real, FileMode.Open, FileAccess.Read, FileShare.Read);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            char[] text = new char[(int)Math.Min(st.Size, MaxConfigBytes) + 1];
            int length = reader.ReadBlock(text, 0, text.Length);
            return JToken.Parse(new string(text, 0, Math.Min(length, MaxConfigBytes))) as JObject ?? throw new JsonReaderException("not an object");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new OciBundleException(Strings.DockerConfigUnreadable, configPath, e is JsonException ? "it is not a JSON object" : e.Message);
        }
    }

    /// <summary>The registry's entry of <c>auths</c>: an identity token, base64 <c>user:password</c>, or a user name and password; null when it has none of them.</summary>
    private static RegistryCredentials? FromAuths(JObject entry, string registry, string configPath, Action<string> log)
    {
        string source = $"{configPath} (auths)";
        if (new[] { "auth", "username", "password", "identitytoken" }.FirstOrDefault(f => entry[f] is { Type: not (JTokenType.String or JTokenType.Null) }) is { } odd)
        {
            throw new OciBundleException(Strings.DockerConfigUnreadable, configPath, $"the \"{odd}\" of {registry} in \"auths\" is not a string");
        }

        if (entry["identitytoken"] is JValue { Value: string identity } && identity.Length > 0)
        {
            return new RegistryCredentials(entry["username"] is JValue { Value: string named } ? named : "<token>", identity, source, isIdentityToken: true);
        }

        if (entry["auth"] is JValue { Value: string auth } && auth.Length > 0)
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth));
            }
            catch (FormatException)
            {
                throw new OciBundleException(Strings.DockerConfigUnreadable, configPath, $"the \"auth\" of {registry} is not base64 of user:password");
            }

            int colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new OciBundleException(Strings.DockerConfigUnreadable, configPath, $"the \"auth\" of {registry} is not base64 of user:password");
            }

            log($"credentials for {registry}: {source}");
            return new RegistryCredentials(decoded[..colon], decoded[(colon + 1)..], source);
        }

        if (entry["username"] is JValue { Value: string name } && entry["password"] is JValue { Value: string password })
        {
            log($"credentials for {registry}: {source}");
            return new RegistryCredentials(name, password, source);
        }

        return null;
    }

    /// <summary>An entry of <c>auths</c> or <c>credHelpers</c>: keys are host[:port], or URLs with a scheme and path (<c>https://index.docker.io/v1/</c>).</summary>
    private static JToken? Lookup(JObject map, string registry)
    {
        string key = ImageName.CredentialKey(registry);
        foreach (JProperty p in map.Properties())
        {
            string name = p.Name;
            if (name == key || Host(name).Equals(registry, StringComparison.OrdinalIgnoreCase) || Host(name).Equals(Host(key), StringComparison.OrdinalIgnoreCase))
            {
                return p.Value;
            }
        }

        return null;
    }

    private static string Host(string key)
    {
        string rest = key.Contains("://", StringComparison.Ordinal) ? key[(key.IndexOf("://", StringComparison.Ordinal) + 3)..] : key;
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? rest : rest[..slash];
    }
}
