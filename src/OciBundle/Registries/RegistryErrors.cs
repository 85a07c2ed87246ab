using System.Globalization;
using System.Net;
using System.Security.Authentication;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.Diagnostics;

namespace OciBundle.Registries;

/// <summary>
/// What a registry's refusals say, read as the distribution API writes them (<c>{"errors": [{"code", "message",
/// "detail"}]}</c>) and OAuth2 token servers theirs (<c>{"error": "invalid_grant"}</c>), and the coded error each
/// answer becomes: the one place an HTTP status and an error code are turned into an OCIB code.
/// </summary>
internal static class RegistryErrors
{
    /// <summary>
    /// The error codes, messages and details of a distribution API error body (a detail that is a string, or an
    /// object's <c>digest</c>, as distribution names a missing blob); none when it has none or is of another shape.
    /// </summary>
    public static List<(string Code, string Message, string Detail)> Parse(string body)
    {
        static string Cut(string? text) => text is null ? "" : text.Length > 300 ? text[..300] + "..." : text;
        try
        {
            if (body.Length > 0 && JToken.Parse(body) is JObject o && o["errors"] is JArray errors)
            {
                return errors.OfType<JObject>()
                    .Select(e => (Text(e["code"]) ?? "", Cut(Text(e["message"])), Cut(Text(e["detail"]) ?? (e["detail"] is JObject d ? Text(d["digest"]) : null))))
                    .ToList();
            }
        }
        catch (JsonException)
        {
        }

        return new List<(string, string, string)>();
    }

    /// <summary>
    /// The coded error for an answer that is not the one expected, by the registry's error codes first, then its status;
    /// <paramref name="detail"/> says what was asked and what came back, <paramref name="sent"/> how many times the
    /// request was sent (said after a 5xx).
    /// </summary>
    public static OciBundleException Classify(RegistryClient client, HttpResponseMessage response, List<(string Code, string Message, string Detail)> errors, string detail, int sent)
    {
        string registry = client.Registry, repository = client.Repository;
        RegistryAuth auth = client.Auth;
        var blobs = errors.SelectMany(e => System.Text.RegularExpressions.Regex.Matches(e.Detail + " " + e.Message, "sha256:[0-9a-f]{64}")).Select(m => m.Value).Distinct(StringComparer.Ordinal).ToList();
        bool Has(params string[] names) => errors.Any(e => names.Contains(e.Code, StringComparer.Ordinal));
        return Has("NAME_INVALID") ? new OciBundleException(Strings.RegistryNameInvalid, registry, repository, detail)
            : Has("BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN") ? new OciBundleException(Strings.RegistryBlobUnknown, registry, repository, blobs.Count > 0 ? string.Join(" and ", blobs) : detail)
            : Has("MANIFEST_INVALID", "MANIFEST_UNVERIFIED", "TAG_INVALID", "UNSUPPORTED", "SIZE_INVALID", "DIGEST_INVALID") ? new OciBundleException(Strings.RegistryManifestInvalid, registry, repository, detail)
            : Has("DENIED") || response.StatusCode == HttpStatusCode.Forbidden ? new OciBundleException(Strings.RegistryDenied, registry, repository, detail, auth.Source)
            : response.StatusCode == HttpStatusCode.Unauthorized && auth.Credentials is not null && response.Headers.WwwAuthenticate.Any(c => c.Parameter?.Contains("insufficient_scope", StringComparison.Ordinal) == true)
                ? new OciBundleException(Strings.RegistryDenied, registry, repository, detail + " (insufficient_scope)", auth.Source)
            : response.StatusCode == HttpStatusCode.Unauthorized ? (auth.Credentials is null ? new OciBundleException(Strings.RegistryNeedsCredentials, registry, repository, auth.LookedFor) : new OciBundleException(Strings.RegistryCredentialsRefused, registry, repository, auth.Source, "401 Unauthorized"))
            : Has("NAME_UNKNOWN") || response.StatusCode == HttpStatusCode.NotFound ? new OciBundleException(Strings.RepositoryNotFound, registry, repository, detail)
            : new OciBundleException(Strings.RegistryFailed, registry, repository, ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), detail,
                sent > 1 ? string.Create(CultureInfo.InvariantCulture, $" after {sent} attempts") : "");
    }

    /// <summary>The <c>error</c> of an OAuth2 error answer (<c>{"error": "invalid_grant"}</c>); null for any other body.</summary>
    public static string? OAuthError(string body)
    {
        try
        {
            return JToken.Parse(body) is JObject o ? Text(o["error"]) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A JSON string's value; null for anything else.</summary>
    public static string? Text(JToken? token) => token is JValue { Value: string s } ? s : null;

    /// <summary>Whether a request failed in the TLS handshake (an untrusted or wrong certificate, a registry without TLS).</summary>
    public static bool IsTls(HttpRequestException e) =>
        e.HttpRequestError == HttpRequestError.SecureConnectionError || e.InnerException is AuthenticationException;

    /// <summary>An exception's messages, outermost to innermost, without a stack trace.</summary>
    public static string Describe(Exception e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (!parts.Contains(x.Message, StringComparer.Ordinal))
            {
                parts.Add(x.Message);
            }
        }

        return string.Join(": ", parts);
    }
}
