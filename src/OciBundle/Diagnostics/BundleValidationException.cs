namespace OciBundle.Diagnostics;

/// <summary>Several mistakes in the options, each with its own code.</summary>
internal sealed class BundleValidationException : Exception
{
    public BundleValidationException(IReadOnlyList<OciBundleException> errors)
        : base(string.Join(Environment.NewLine, errors.Select(e => $"{e.Code}: {e.Message}")))
    {
        Errors = errors;
    }

    public IReadOnlyList<OciBundleException> Errors { get; }
}
