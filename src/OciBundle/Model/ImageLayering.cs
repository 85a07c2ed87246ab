namespace OciBundle.Model;

/// <summary>How the app folder is split into image layers (<c>OciImageLayering</c>).</summary>
internal enum ImageLayering
{
    /// <summary>By how often the files change: NuGet packages (in fixed groups), project references, content, the app's own files.</summary>
    ByChangeRate,

    /// <summary>The whole app folder in one layer: the three-layer image (system, .NET runtime, app).</summary>
    SingleAppLayer,
}
