namespace OciBundle.Diagnostics;

/// <summary>Commands the build prints for the user to paste: every word quoted so a POSIX shell reads it back unchanged.</summary>
public static class ShellWords
{
    /// <summary>A word as it is when it is plain, else in single quotes (a quote inside written <c>'\''</c>).</summary>
    public static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+=:,@%".Contains(c, StringComparison.Ordinal))
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
