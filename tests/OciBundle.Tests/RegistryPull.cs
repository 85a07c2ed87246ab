using System.Security.Cryptography;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json.Linq;
using OciBundle.Images;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>What a puller checks of a pushed image, done by hand over plain HTTP: the tag's manifest, then every blob it names, each hashed.</summary>
internal static class RegistryPull
{
    /// <summary>The digest a tag names in a plain-HTTP registry without auth, or null.</summary>
    public static string? TagDigest(string host, string repository, string tag)
    {
        using var http = new HttpClient();
        var request = new HttpRequestMessage(HttpMethod.Head, $"http://{host}/v2/{repository}/manifests/{tag}");
        request.Headers.Accept.ParseAdd(Model.Oci.OciMediaTypes.ImageManifest);
        using HttpResponseMessage response = http.Send(request);
        return response.IsSuccessStatusCode ? response.Headers.GetValues("Docker-Content-Digest").Single() : null;
    }

    /// <summary>
    /// Pulls <paramref name="tag"/> as a client would: its manifest has <paramref name="digest"/>, and the config and
    /// every layer it names come back whole, with their digests and sizes; with skopeo, a full copy too.
    /// </summary>
    public static void AssertPullable(string host, string repository, string tag, string digest, string? basic = null)
    {
        using var http = new HttpClient();
        if (basic is not null)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", basic);
        }

        var request = new HttpRequestMessage(HttpMethod.Get, $"http://{host}/v2/{repository}/manifests/{tag}");
        request.Headers.Accept.ParseAdd(Model.Oci.OciMediaTypes.ImageManifest);
        using HttpResponseMessage response = http.Send(request);
        Assert.IsTrue(response.IsSuccessStatusCode, $"GET manifest {tag}: {(int)response.StatusCode}");
        byte[] manifest = response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
        Assert.AreEqual(digest, Sha256(manifest), "the manifest pulled is the one pushed");
        JObject document = JObject.Parse(System.Text.Encoding.UTF8.GetString(manifest));
        foreach (JToken descriptor in new[] { document["config"]! }.Concat(document["layers"]!))
        {
            string blob = (string)descriptor["digest"]!;
            byte[] bytes = http.GetByteArrayAsync($"http://{host}/v2/{repository}/blobs/{blob}").GetAwaiter().GetResult();
            Assert.AreEqual(blob, Sha256(bytes), $"blob {blob} comes back whole");
            Assert.AreEqual((long)descriptor["size"]!, bytes.LongLength, blob);
        }

        if (basic is null && TestEnvironment.Which("skopeo") is not null)
        {
            using var copy = new TempDirectory();
            ProcessResult copied = TestEnvironment.RunCapture("skopeo", "copy", "--src-tls-verify=false", $"docker://{host}/{repository}:{tag}", $"oci:{copy.Combine("image")}:pulled");
            Assert.AreEqual(0, copied.ExitCode, "skopeo copy pulls it: " + copied.All);
        }
    }

    private static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();
}
