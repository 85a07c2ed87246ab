using System.Globalization;
using System.Net;
using OciBundle.Diagnostics;

namespace OciBundle.Registries;

/// <summary>
/// The push's own redirect policy (the HTTP handler follows none, so a body is never sent twice from a stream already
/// read): a 307 or 308 is followed by the same request, its body made again from the file; a 301, 302 or 303 only
/// for HEAD and GET (for an upload they would turn it into a GET, losing the body); the <c>Location</c> resolved
/// against the URL that answered it (RFC 9110 10.2.2, RFC 3986 5); never to another scheme than http(s), nor from
/// TLS to plain http; at most <see cref="MaxRedirects"/> in a row. Whether credentials go along is decided for each
/// request by the client, as for any other: only to the registry's own scheme, host and port.
/// </summary>
internal static class RegistryRedirect
{
    /// <summary>The most redirects followed in a row for one request, as Go's HTTP client (which docker, containerd and skopeo use) allows.</summary>
    public const int MaxRedirects = 10;

    public static bool IsRedirect(HttpStatusCode status) => (int)status is 301 or 302 or 303 or 307 or 308;

    /// <summary>
    /// Where to send <paramref name="request"/> again after <paramref name="response"/>, a redirect, the
    /// <paramref name="count"/>th in a row; a coded error when the push does not follow it.
    /// </summary>
    public static Uri Target(RegistryClient client, HttpRequestMessage request, HttpResponseMessage response, int count)
    {
        int status = (int)response.StatusCode;
        string what = $"{request.Method} {Shown(request.RequestUri)}";
        string answer = string.Create(CultureInfo.InvariantCulture, $"{status} {response.ReasonPhrase}");
        if (status is 301 or 302 or 303 && request.Method != HttpMethod.Head && request.Method != HttpMethod.Get)
        {
            throw new OciBundleException(Strings.RegistryRedirected, client.Registry, client.Repository, what,
                $"with {answer}, which would turn the {request.Method} into a GET and lose its body (only 307 and 308 keep the method and the body)");
        }

        if (response.Headers.Location is not { } location)
        {
            throw new OciBundleException(Strings.RegistryRedirected, client.Registry, client.Repository, what, $"with {answer} but no Location saying where");
        }

        Uri from = request.RequestUri ?? client.BaseUri;
        Uri target = location.IsAbsoluteUri ? location : new Uri(from, location);
        if (count > MaxRedirects)
        {
            throw new OciBundleException(Strings.RegistryRedirected, client.Registry, client.Repository, what,
                string.Create(CultureInfo.InvariantCulture, $"more than {MaxRedirects} times in a row (a loop?), the last time to {Shown(target)}"));
        }

        string? why = target.Scheme is not ("http" or "https") ? $"is a {target.Scheme}: address, not http or https"
            : from.Scheme == "https" && target.Scheme == "http" ? "is plain http while the request was sent over TLS (a downgrade: the image would travel in the clear)"
            : null;
        if (why is not null)
        {
            throw new OciBundleException(Strings.RegistryLocationRefused, client.Registry, client.Repository, Shown(target), $"a {answer} of {what}", why);
        }

        return target;
    }

    /// <summary>An address for a message or the log: no user info, query (a presigned URL's signature, an upload's state) or fragment.</summary>
    public static string Shown(Uri? uri)
    {
        if (uri is null)
        {
            return "(none)";
        }

        if (!uri.IsAbsoluteUri)
        {
            return uri.OriginalString.Split('?', '#')[0];
        }

        try
        {
            return new UriBuilder(uri) { UserName = "", Password = "", Query = "", Fragment = "" }.Uri.GetLeftPart(UriPartial.Path);
        }
        catch (UriFormatException)
        {
            return uri.Scheme + ":";
        }
    }
}
