using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;

namespace OciBundle.Registries;

/// <summary>
/// The auth handshake of one <see cref="RegistryClient"/>: what a request carries to the registry (a Bearer token
/// cached per scope, or Basic once the registry asked for it; nothing for another scheme, host or port), and the
/// answer to a <c>WWW-Authenticate</c> challenge: Basic with the credentials, or a token from the challenge's realm
/// (docker's token protocol, or OAuth2's refresh-token grant for an identity token). Every refusal is a coded error
/// naming where the credentials came from.
/// </summary>
internal sealed class RegistryAuth
{
    private readonly RegistryClient _client;
    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);
    private volatile bool _basic;

    /// <param name="client">The transport token requests go through.</param>
    /// <param name="credentials">Null: anonymous.</param>
    /// <param name="lookedFor">Where credentials were looked for when none were found, for the message.</param>
    public RegistryAuth(RegistryClient client, RegistryCredentials? credentials, string lookedFor)
    {
        _client = client;
        Credentials = credentials;
        LookedFor = lookedFor;
    }

    public RegistryCredentials? Credentials { get; }

    public string LookedFor { get; }

    /// <summary>Where the credentials came from, for messages.</summary>
    public string Source => Credentials?.Source ?? "none: anonymous";

    private string Registry => _client.Registry;

    private string Repository => _client.Repository;

    /// <summary>Adds what the registry asked for to a request for <paramref name="scope"/>; nothing to a request for another place.</summary>
    public void Authorize(HttpRequestMessage request, string scope)
    {
        if (!_client.IsRegistry(request.RequestUri))
        {
            return; // credentials and tokens never leave for another scheme, host or port
        }

        if (_tokens.TryGetValue(scope, out var token) && token.Expires > DateTimeOffset.UtcNow)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Token);
        }
        else if (_basic && Credentials is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Credentials.BasicHeader());
        }
    }

    /// <summary>
    /// Answers a <c>WWW-Authenticate</c> challenge: Basic with the credentials, or a Bearer token from the realm for the
    /// scope. <paramref name="reason"/> is the registry's error code with the 401 (<c>insufficient_scope</c>), if any;
    /// <paramref name="sentBasic"/> whether the refused request carried Basic credentials.
    /// </summary>
    public async Task Answer(AuthenticationHeaderValue challenge, string scope, string? reason, bool sentBasic, CancellationToken cancel)
    {
        if (challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            AnswerBasic(sentBasic);
            return;
        }

        if (!challenge.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            throw new OciBundleException(Strings.RegistryFailed, Registry, Repository, "401", $"it asks for {challenge.Scheme} authentication, which is neither Basic nor Bearer", "");
        }

        Dictionary<string, string> p = ChallengeParameters(challenge.Parameter ?? "");
        Uri realm = Realm(p, scope);
        if (_tokens.TryGetValue(scope, out var old) && reason == "insufficient_scope" && old.Expires > DateTimeOffset.UtcNow)
        {
            // A fresh token that still lacks the rights: the account may not push here.
            throw Credentials is null
                ? new OciBundleException(Strings.RegistryNeedsCredentials, Registry, Repository, LookedFor)
                : new OciBundleException(Strings.RegistryDenied, Registry, Repository, "the token server grants no push (insufficient_scope)", Credentials.Source);
        }

        var scopes = scope.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (p.TryGetValue("scope", out string? asked))
        {
            scopes.AddRange(asked.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(s => !scopes.Contains(s, StringComparer.Ordinal)));
        }

        (string token, double expiresIn) = await FetchToken(TokenRequest(realm, scopes, p.GetValueOrDefault("service")), realm, scope, cancel).ConfigureAwait(false);

        // Renewed a little before it runs out; a token that expires anyway gets a 401, answered once per request.
        _tokens[scope] = (token, DateTimeOffset.UtcNow.AddSeconds(Math.Clamp(expiresIn - 10, 5, 86400)));
    }

    private void AnswerBasic(bool sentBasic)
    {
        if (Credentials is null)
        {
            throw new OciBundleException(Strings.RegistryNeedsCredentials, Registry, Repository, LookedFor);
        }

        // Refused only when this very request carried them: a request sent in parallel before Basic was known retries with them.
        if (sentBasic)
        {
            throw new OciBundleException(Strings.RegistryCredentialsRefused, Registry, Repository, Credentials.Source, "401 Unauthorized");
        }

        _basic = true;
    }

    /// <summary>The challenge's realm: an http(s) address that the credentials may travel to (never in the clear from a TLS registry).</summary>
    private Uri Realm(Dictionary<string, string> p, string scope)
    {
        if (!p.TryGetValue("realm", out string? realm) || !Uri.TryCreate(realm, UriKind.Absolute, out Uri? realmUri) || realmUri.Scheme is not ("http" or "https"))
        {
            throw new OciBundleException(Strings.TokenServerFailed, realm ?? "(none)", Registry, scope, "the challenge names no http(s) realm", Source);
        }

        if (realmUri.Scheme == "http" && _client.BaseUri.Scheme == "https")
        {
            // The token request carries the password (or refresh token): never in the clear from a TLS registry.
            throw new OciBundleException(Strings.TokenServerFailed, RegistryRedirect.Shown(realmUri), Registry, scope, "the realm is plain http while the registry speaks TLS, so the push sends it nothing (the credentials would cross the network in the clear); the registry's token service must be https", Source);
        }

        if (realmUri.Scheme == "http" && Credentials is not null && !realmUri.IdnHost.Equals(_client.BaseUri.IdnHost, StringComparison.OrdinalIgnoreCase))
        {
            throw new OciBundleException(Strings.TokenServerFailed, RegistryRedirect.Shown(realmUri), Registry, scope, "the realm is plain http on another host than the registry, so the push sends it no credentials; use an https token service (or one on the registry's own host)", Credentials.Source);
        }

        return realmUri;
    }

    /// <summary>The token request: OAuth2's refresh-token POST for an identity token, else a GET with Basic credentials (or none).</summary>
    private HttpRequestMessage TokenRequest(Uri realm, List<string> scopes, string? service)
    {
        if (Credentials is { IsIdentityToken: true })
        {
            // OAuth2 refresh token (docker's identitytoken): POST to the realm.
            var form = new List<KeyValuePair<string, string>>
            {
                new("grant_type", "refresh_token"),
                new("refresh_token", Credentials.Secret),
                new("client_id", "ocibundle-sdk"),
                new("scope", string.Join(" ", scopes)),
            };
            if (service is not null)
            {
                form.Add(new("service", service));
            }

            return new HttpRequestMessage(HttpMethod.Post, realm) { Content = new FormUrlEncodedContent(form) };
        }

        string query = string.Join("&", (service is not null ? new[] { "service=" + Uri.EscapeDataString(service) } : Array.Empty<string>())
            .Concat(scopes.Select(s => "scope=" + Uri.EscapeDataString(s))));
        var request = new HttpRequestMessage(HttpMethod.Get, new UriBuilder(realm) { Query = (realm.Query.TrimStart('?') is { Length: > 0 } q ? q + "&" : "") + query }.Uri);
        if (Credentials is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Credentials.BasicHeader());
        }

        return request;
    }

    /// <summary>Sends the token request and reads the token and its lifetime from the answer; every refusal a coded error.</summary>
    private async Task<(string Token, double ExpiresIn)> FetchToken(HttpRequestMessage request, Uri realm, string scope, CancellationToken cancel)
    {
        string shownRealm = RegistryRedirect.Shown(realm);
        HttpResponseMessage response;
        try
        {
            response = await SendToken(request, cancel).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException)
        {
            throw new OciBundleException(Strings.TokenServerFailed, shownRealm, Registry, scope, RegistryErrors.Describe(e), Source);
        }

        using (response)
        {
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw Credentials is null
                    ? new OciBundleException(Strings.RegistryNeedsCredentials, Registry, Repository, LookedFor)
                    : new OciBundleException(Strings.RegistryCredentialsRefused, Registry, Repository, Credentials.Source, $"its token server {shownRealm} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            string body;
            try
            {
                body = await _client.ReadAnswer(response, cancel).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException)
            {
                throw new OciBundleException(Strings.TokenServerFailed, shownRealm, Registry, scope, "its answer broke off: " + RegistryErrors.Describe(e), Source);
            }

            if (Credentials is { IsIdentityToken: true } && response.StatusCode == HttpStatusCode.BadRequest && RegistryErrors.OAuthError(body) is { } refusal && refusal is "invalid_grant" or "invalid_client" or "unauthorized_client")
            {
                // RFC 6749 5.2: the refresh token (revoked, expired, for another client) is what was refused.
                throw new OciBundleException(Strings.RegistryCredentialsRefused, Registry, Repository, Credentials.Source, $"its token server {shownRealm} refused the identity token: {refusal}");
            }

            (string? token, double expiresIn) = response.IsSuccessStatusCode ? ParseToken(body) : (null, 60);
            return string.IsNullOrEmpty(token)
                ? throw new OciBundleException(Strings.TokenServerFailed, shownRealm, Registry, scope, response.IsSuccessStatusCode ? "its answer holds no token" : $"{(int)response.StatusCode} {response.ReasonPhrase}", Source)
                : (token, expiresIn);
        }
    }

    /// <summary>A token answer's <c>token</c> (or <c>access_token</c>) and <c>expires_in</c> (60 s when absent or odd).</summary>
    private static (string? Token, double ExpiresIn) ParseToken(string body)
    {
        try
        {
            if (JToken.Parse(body) is JObject answer)
            {
                string? token = RegistryErrors.Text(answer["token"]) ?? RegistryErrors.Text(answer["access_token"]);
                return (token, answer["expires_in"] is JValue { Value: long l } ? l : answer["expires_in"] is JValue { Value: double d } && double.IsFinite(d) ? d : 60);
            }
        }
        catch (JsonException)
        {
        }

        return (null, 60);
    }

    /// <summary>
    /// A token request, and for a GET the redirects of its realm, followed without the credentials (as HTTP clients
    /// do); the refresh token's POST is never redirected: it carries the secret in its body.
    /// </summary>
    private async Task<HttpResponseMessage> SendToken(HttpRequestMessage request, CancellationToken cancel)
    {
        HttpResponseMessage response = await _client.SendOnce(request, cancel).ConfigureAwait(false);
        for (int hops = 1; RegistryRedirect.IsRedirect(response.StatusCode) && request.Method == HttpMethod.Get; hops++)
        {
            using (response)
            {
                request = new HttpRequestMessage(HttpMethod.Get, RegistryRedirect.Target(_client, request, response, hops));
            }

            response = await _client.SendOnce(request, cancel).ConfigureAwait(false);
        }

        return response;
    }

    /// <summary>The key=value pairs of a challenge: <c>realm="https://auth",service="registry",scope="repository:a:pull"</c>.</summary>
    internal static Dictionary<string, string> ChallengeParameters(string parameter)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        int i = 0;
        while (i < parameter.Length)
        {
            while (i < parameter.Length && (parameter[i] == ',' || char.IsWhiteSpace(parameter[i])))
            {
                i++;
            }

            int eq = parameter.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }

            string key = parameter[i..eq].Trim();
            i = eq + 1;
            string value;
            if (i < parameter.Length && parameter[i] == '"')
            {
                var sb = new System.Text.StringBuilder();
                for (i++; i < parameter.Length && parameter[i] != '"'; i++)
                {
                    if (parameter[i] == '\\' && i + 1 < parameter.Length)
                    {
                        i++;
                    }

                    sb.Append(parameter[i]);
                }

                i++;
                value = sb.ToString();
            }
            else
            {
                int end = parameter.IndexOf(',', i);
                value = (end < 0 ? parameter[i..] : parameter[i..end]).Trim();
                i = end < 0 ? parameter.Length : end;
            }

            result[key] = value;
        }

        return result;
    }
}
