using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json;
using OciBundle.Model;
using OciBundle.Storage;

namespace OciBundle.Spdx;

/// <summary>
/// The bundle's SBOM, SPDX 2.3 JSON (<c>sbom.spdx.json</c> beside config.json, and <see cref="WellKnownPaths.SbomInContainer"/> in
/// rootfs): one package per Debian package that owns a file in rootfs, per .NET shared framework or runtime pack,
/// per NuGet package of the app's deps.json, the app, and the bundle itself; every regular file with its SHA-1 and
/// SHA-256 and the package that contains it (<see cref="SbomInventory"/>). Deterministic: ordered by path and name, ids
/// derived from names and paths, the time from <c>SOURCE_DATE_EPOCH</c> and the namespace from the content, so the
/// same inputs give the same bytes and an app change changes only the app's entries (and the namespace).
/// </summary>
internal sealed class SpdxSbom
{
    private const string NoAssertion = DeclaredLicense.NoAssertion;

    private readonly JsonTextWriter _json;
    private readonly string _created;

    private SpdxSbom(JsonTextWriter json, long epoch)
    {
        _json = json;
        _created = DateTimeOffset.FromUnixTimeSeconds(epoch).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }

    public static byte[] Write(SbomSources s)
    {
        SbomInventory inventory = SbomInventory.Collect(s);
        var builder = new StringBuilder();
        using (var writer = new StringWriter(builder, CultureInfo.InvariantCulture) { NewLine = "\n" })
        using (var json = new JsonTextWriter(writer) { Formatting = Formatting.Indented, Indentation = 2 })
        {
            var sbom = new SpdxSbom(json, s.Epoch);
            json.WriteStartObject();
            sbom.WriteHeader(s);
            sbom.WritePackages(s, inventory);
            sbom.WriteFiles(s, inventory);
            sbom.WriteRelationships(s, inventory);
            json.WriteEndObject();
        }

        builder.Append('\n');

        // The namespace names this document and no other: derived from everything else in it, never a random GUID.
        byte[] hash = Utf8Text.Sha256(builder);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50); // RFC 4122 name-based form (version 5 bits, variant bits)
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        var uuid = new Guid(hash.AsSpan(0, 16), bigEndian: true);
        string ns = $"https://spdx.org/spdxdocs/ocibundle-{SpdxNames.IdPart(s.AppName)}-{uuid:D}";
        return Utf8Text.Bytes(builder.Replace("\"@NAMESPACE@\"", JsonConvert.ToString(ns)));
    }

    /// <summary>The document's own fields; its namespace a placeholder, filled in once the rest is written.</summary>
    private void WriteHeader(SbomSources s)
    {
        Field("spdxVersion", "SPDX-2.3");
        Field("dataLicense", "CC0-1.0");
        Field("SPDXID", "SPDXRef-DOCUMENT");
        Field("name", s.AppName);
        Field("documentNamespace", "@NAMESPACE@");
        if (s.Packages is null)
        {
            Field("comment", "The sysroot has no dpkg database (var/lib/dpkg): the files taken from it are listed without a package.");
        }
        else if (!s.Packages.HasStatus)
        {
            Field("comment", "The sysroot's dpkg database has no status file (var/lib/dpkg/status): no package's version is known, so the files taken from it are listed without a package.");
        }

        _json.WritePropertyName("creationInfo");
        _json.WriteStartObject();
        Field("created", _created);
        _json.WritePropertyName("creators");
        _json.WriteStartArray();
        _json.WriteValue("Tool: OciBundle.Sdk-" + SpdxNames.ToolVersion());
        _json.WriteEndArray();
        _json.WriteEndObject();
    }

    /// <summary>The bundle, the app, the operating system (when the sysroot says which), then every other package.</summary>
    private void WritePackages(SbomSources s, SbomInventory inventory)
    {
        _json.WritePropertyName("packages");
        _json.WriteStartArray();
        WritePackage(new SbomPackage
        {
            Id = SpdxNames.BundleId,
            Name = s.AppName,
            Version = inventory.AppVersion,
            Purpose = "CONTAINER",
            Comment = "the OCI bundle and image of " + s.AppName + ", made by OciBundle.Sdk without a base image"
                + (s.SysrootDigest is null ? "" : "; native libraries and data from the sysroot " + s.SysrootDigest),
        });
        WritePackage(inventory.App);
        if (s.Os is { } os)
        {
            WritePackage(new SbomPackage
            {
                Id = SpdxNames.OsId,
                Name = os.Id,
                Version = os.VersionId ?? NoAssertion,
                Purpose = "OPERATING_SYSTEM",
                Comment = "the distribution of the sysroot, from its os-release" + (os.PrettyName is null ? "" : ": " + os.PrettyName),
                SourceInfo = s.SysrootDigest is null ? null : "the sysroot " + s.SysrootDigest + " (OciBundleSysrootDigest pins it)",
            });
        }

        foreach (SbomPackage package in inventory.Packages)
        {
            WritePackage(package);
        }

        _json.WriteEndArray();
    }

    private void WriteFiles(SbomSources s, SbomInventory inventory)
    {
        _json.WritePropertyName("files");
        _json.WriteStartArray();
        foreach (ListedFile file in inventory.Files)
        {
            FileDigest digest = s.Digests[file.Entry.Path];
            _json.WriteStartObject();
            Field("SPDXID", file.Id);
            Field("fileName", file.Entry.Path);
            _json.WritePropertyName("checksums");
            _json.WriteStartArray();
            Checksum("SHA1", digest.Sha1);
            Checksum("SHA256", digest.Sha256);
            _json.WriteEndArray();
            Field("licenseConcluded", NoAssertion);
            Field("copyrightText", NoAssertion);
            Field("comment", file.Comment);
            _json.WriteEndObject();
        }

        _json.WriteEndArray();
    }

    private void WriteRelationships(SbomSources s, SbomInventory inventory)
    {
        _json.WritePropertyName("relationships");
        _json.WriteStartArray();
        Relationship("SPDXRef-DOCUMENT", "DESCRIBES", SpdxNames.BundleId);
        Relationship(SpdxNames.BundleId, "CONTAINS", SpdxNames.AppId);
        if (s.Os is not null)
        {
            Relationship(SpdxNames.BundleId, "CONTAINS", SpdxNames.OsId);
        }

        foreach (SbomPackage package in inventory.Packages)
        {
            Relationship(SpdxNames.BundleId, "CONTAINS", package.Id);
        }

        foreach (SbomPackage package in inventory.Packages.Where(c => c.AppDependency))
        {
            Relationship(SpdxNames.AppId, "DEPENDS_ON", package.Id);
        }

        foreach (ListedFile file in inventory.Files)
        {
            Relationship(file.Owner?.Id ?? SpdxNames.BundleId, "CONTAINS", file.Id);
        }

        _json.WriteEndArray();
    }

    private void WritePackage(SbomPackage c)
    {
        _json.WriteStartObject();
        Field("SPDXID", c.Id);
        Field("name", c.Name);
        Field("versionInfo", c.Version);
        Field("supplier", c.Supplier);
        Field("packageFileName", c.PackageFile?.FileName);
        Field("downloadLocation", NoAssertion);
        _json.WritePropertyName("filesAnalyzed");
        _json.WriteValue(false);
        if (c.PackageFile is { } hashed)
        {
            _json.WritePropertyName("checksums");
            _json.WriteStartArray();
            Checksum("SHA512", hashed.Sha512);
            _json.WriteEndArray();
        }

        Field("sourceInfo", c.SourceInfo);
        Field("licenseConcluded", NoAssertion);
        Field("licenseDeclared", c.License);
        Field("copyrightText", NoAssertion);
        Field("comment", c.Comment);
        if (c.Purl is not null)
        {
            _json.WritePropertyName("externalRefs");
            _json.WriteStartArray();
            _json.WriteStartObject();
            Field("referenceCategory", "PACKAGE-MANAGER");
            Field("referenceType", "purl");
            Field("referenceLocator", c.Purl);
            _json.WriteEndObject();
            _json.WriteEndArray();
        }

        Field("primaryPackagePurpose", c.Purpose);
        if (c.ContentHash is not null)
        {
            WriteContentHash(c.ContentHash);
        }

        _json.WriteEndObject();
    }

    /// <summary>NuGet's contentHash, as an annotation: it is the hash of no file SPDX knows.</summary>
    private void WriteContentHash(string contentHash)
    {
        _json.WritePropertyName("annotations");
        _json.WriteStartArray();
        _json.WriteStartObject();
        Field("annotationDate", _created);
        Field("annotationType", "OTHER");
        Field("annotator", "Tool: OciBundle.Sdk-" + SpdxNames.ToolVersion());
        Field("comment", $"NuGet contentHash: {contentHash} (from deps.json, as NuGet's .nupkg.metadata records it: the SHA-512 of the package without its signature file, so not the checksum of the signed .nupkg; that is in checksums when the package file was in the NuGet package folder)");
        _json.WriteEndObject();
        _json.WriteEndArray();
    }

    private void Checksum(string algorithm, string value)
    {
        _json.WriteStartObject();
        Field("algorithm", algorithm);
        Field("checksumValue", value);
        _json.WriteEndObject();
    }

    private void Relationship(string from, string type, string to)
    {
        _json.WriteStartObject();
        Field("spdxElementId", from);
        Field("relationshipType", type);
        Field("relatedSpdxElement", to);
        _json.WriteEndObject();
    }

    /// <summary>A string field; none at all when <paramref name="value"/> is null.</summary>
    private void Field(string name, string? value)
    {
        if (value is not null)
        {
            _json.WritePropertyName(name);
            _json.WriteValue(value);
        }
    }
}
