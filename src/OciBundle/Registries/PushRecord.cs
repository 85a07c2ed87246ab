using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace OciBundle.Registries;

/// <summary>
/// Which repositories of which registry this project pushed which blobs to (in obj/): a push to another repository
/// of the same registry mounts them from there instead of uploading them again. Digests and names only, never a
/// credential. A record that cannot be read is ignored (it only saves uploads).
/// </summary>
internal sealed class PushRecord
{
    private readonly string? _path;
    private readonly JObject _data;

    private PushRecord(string? path, JObject data)
    {
        _path = path;
        _data = data;
    }

    public static PushRecord Load(string? path)
    {
        try
        {
            if (path is not null && File.Exists(path))
            {
                return new PushRecord(path, JObject.Parse(File.ReadAllText(path)));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
        }

        return new PushRecord(path, new JObject());
    }

    /// <summary>Other repositories of <paramref name="registry"/> known to hold <paramref name="digest"/>.</summary>
    public IReadOnlyList<string> HoldersOf(string registry, string digest, string except) =>
        _data[registry]?[digest] is JArray repos ? repos.Values<string>().OfType<string>().Where(r => r != except).ToList() : Array.Empty<string>();

    public void Add(string registry, string repository, IEnumerable<string> digests)
    {
        var byDigest = _data[registry] as JObject ?? new JObject();
        _data[registry] = byDigest;
        foreach (string digest in digests)
        {
            var repos = byDigest[digest] as JArray ?? new JArray();
            byDigest[digest] = repos;
            if (!repos.Values<string>().Contains(repository))
            {
                repos.Add(repository);
            }
        }
    }

    public void Save()
    {
        if (_path is null)
        {
            return;
        }

        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            string temp = _path + ".tmp-" + Guid.NewGuid().ToString("N");
            File.WriteAllText(temp, _data.ToString(Formatting.Indented));
            File.Move(temp, _path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
