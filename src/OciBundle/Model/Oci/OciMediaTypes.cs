namespace OciBundle.Model.Oci;

/// <summary>The media types of the OCI image specification (v1.1) this product writes and reads.</summary>
internal static class OciMediaTypes
{
    public const string ImageManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string ImageIndex = "application/vnd.oci.image.index.v1+json";
    public const string ImageConfig = "application/vnd.oci.image.config.v1+json";

    /// <summary>A layer: an uncompressed tar; a compression adds its suffix (<see cref="LayerGzip"/>, <see cref="LayerZstd"/>).</summary>
    public const string Layer = "application/vnd.oci.image.layer.v1.tar";
    public const string LayerGzip = Layer + "+gzip";
    public const string LayerZstd = Layer + "+zstd";

    /// <summary>The version <c>oci-layout</c> names.</summary>
    public const string LayoutVersion = "1.0.0";
}
