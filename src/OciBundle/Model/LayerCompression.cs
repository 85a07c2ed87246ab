namespace OciBundle.Model;

/// <summary>How image layers are compressed (<c>OciImageLayerCompression</c>).</summary>
internal enum LayerCompression
{
    Gzip,
    Zstd,
}
