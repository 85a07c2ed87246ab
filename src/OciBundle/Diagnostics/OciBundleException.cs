namespace OciBundle.Diagnostics;

/// <summary>
/// A mistake in the user's inputs or environment that stops the bundle. It always carries a stable
/// <c>OCIB</c> code from <see cref="Strings"/>; the MSBuild task logs it as an error with that code.
/// </summary>
internal sealed class OciBundleException : Exception
{
    public OciBundleException(Diagnostic diagnostic, params object?[] args)
        : base(diagnostic.Format(args))
    {
        Code = diagnostic.Code;
        Diagnostic = diagnostic;
        Args = args;
    }

    public OciBundleException(Diagnostic diagnostic, Exception inner, params object?[] args)
        : base(diagnostic.Format(args), inner)
    {
        Code = diagnostic.Code;
        Diagnostic = diagnostic;
        Args = args;
    }

    private OciBundleException(OciBundleException said, string message)
        : base(message, said)
    {
        Code = said.Code;
        Diagnostic = said.Diagnostic;
        Args = said.Args;
    }

    public string Code { get; }

    public Diagnostic Diagnostic { get; }

    /// <summary>The values the message was made of, for a caller that says the same in its own words (a pull's errors from the push's client).</summary>
    public IReadOnlyList<object?> Args { get; }

    /// <summary>
    /// The same error, its message naming <paramref name="property"/> where it names <c>OciBundleSysroot</c>: the
    /// sysroot's rules read other properties' values too (<c>OciImageBase</c>), and the user must be told which was read.
    /// </summary>
    public OciBundleException Naming(string property) =>
        new(this, Message.Replace("OciBundleSysroot '", property + " '", StringComparison.Ordinal));
}
