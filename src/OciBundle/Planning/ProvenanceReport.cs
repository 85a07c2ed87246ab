using System.Globalization;
using System.Text;
using Newtonsoft.Json;
using OciBundle.Model;
using OciBundle.Rootfs;

namespace OciBundle.Planning;

/// <summary>
/// <c>provenance.json</c>, beside config.json: every path in rootfs with its type, mode, size, source and the
/// reason it is there, so "why is this 30 MB library in my bundle?" has an answer
/// (<c>jq '.files[] | select(.path | test("icu"))' provenance.json</c>).
/// </summary>
internal static class ProvenanceReport
{
    /// <param name="plan">What rootfs holds.</param>
    /// <param name="omitted">What the closure left out, and why.</param>
    /// <param name="sysroot">Where the native files came from: recorded as <c>sysroot</c> (its digest when it was an archive or image).</param>
    /// <param name="paths">How host paths are written (relative to the project, <c>$(NuGetPackageRoot)/...</c>): the same bytes from any checkout and any user. Null: as they are.</param>
    public static byte[] Write(RootfsPlan plan, IReadOnlyList<string> omitted, Sysroots.MaterializedSysroot? sysroot = null, PortablePaths? paths = null)
    {
        string Portable(string path) => paths?.Of(path) ?? path;
        var builder = new StringBuilder();
        using (var writer = new StringWriter(builder, CultureInfo.InvariantCulture) { NewLine = "\n" })
        using (var json = new JsonTextWriter(writer) { Formatting = Formatting.Indented, Indentation = 2 })
        {
            List<RootfsEntry> entries = plan.Entries.ToList();
            json.WriteStartObject();
            json.WritePropertyName("schemaVersion");
            json.WriteValue(1);
            json.WritePropertyName("fileCount");
            json.WriteValue(entries.Count(e => e.Kind == RootfsEntryKind.File));
            json.WritePropertyName("totalBytes");
            json.WriteValue(entries.Where(e => e.Kind == RootfsEntryKind.File).Sum(e => e.Size));
            if (sysroot is not null)
            {
                WriteSysroot(json, sysroot, Portable);
            }

            json.WritePropertyName("omitted");
            json.WriteStartArray();
            foreach (string o in omitted)
            {
                json.WriteValue(o);
            }

            json.WriteEndArray();
            json.WritePropertyName("files");
            json.WriteStartArray();
            foreach (RootfsEntry e in entries)
            {
                WriteEntry(json, e, Portable);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        builder.Append('\n');
        return Utf8Text.Bytes(builder);
    }

    private static void WriteSysroot(JsonTextWriter json, Sysroots.MaterializedSysroot sysroot, Func<string, string> portable)
    {
        json.WritePropertyName("sysroot");
        json.WriteStartObject();
        json.WritePropertyName("source");
        json.WriteValue(portable(sysroot.Source));
        json.WritePropertyName("form");
        json.WriteValue(sysroot.Form);
        json.WritePropertyName("root");
        json.WriteValue(portable(sysroot.Root));
        if (sysroot.Digest is not null)
        {
            json.WritePropertyName("digest");
            json.WriteValue(sysroot.Digest);
        }

        json.WriteEndObject();
    }

    /// <summary>One path of rootfs: its type, mode, size, link target, source (as <paramref name="portable"/> names it), owner and reason.</summary>
    private static void WriteEntry(JsonTextWriter json, RootfsEntry e, Func<string, string> portable)
    {
        json.WriteStartObject();
        json.WritePropertyName("path");
        json.WriteValue(e.Path);
        json.WritePropertyName("type");
        json.WriteValue(e.Kind switch { RootfsEntryKind.Directory => "directory", RootfsEntryKind.Symlink => "symlink", _ => "file" });
        json.WritePropertyName("mode");
        json.WriteValue(Convert.ToString((int)e.Mode, 8).PadLeft(4, '0'));
        if (e.Kind == RootfsEntryKind.File)
        {
            json.WritePropertyName("size");
            json.WriteValue(e.Size);
        }

        if (e.LinkTarget is not null)
        {
            json.WritePropertyName("target");
            json.WriteValue(e.LinkTarget);
        }

        if (e.SourcePath is not null)
        {
            json.WritePropertyName("source");
            json.WriteValue(portable(e.SourcePath));
        }

        if (e.OwnerId is int owner)
        {
            json.WritePropertyName("owner");
            json.WriteValue(owner);
        }

        json.WritePropertyName("reason");
        json.WriteValue(e.Reason);
        json.WriteEndObject();
    }
}
