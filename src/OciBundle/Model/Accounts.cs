using System.Text;

namespace OciBundle.Model;

/// <summary>The users and groups of the generated <c>/etc/passwd</c> and <c>/etc/group</c>.</summary>
internal static class Accounts
{
    internal sealed record Account(string Name, uint Id, string Home);

    /// <summary>An account the product needs that a base image's file already has otherwise: the file, the base's line, and which of ours it conflicts with.</summary>
    internal sealed record Conflict(string File, string Line, Account Wanted);

    /// <summary>The non-root user of Microsoft's .NET images: the process's default user, the owner of its home.</summary>
    public static readonly Account App = new("app", 1654, "/home/app");

    public static readonly IReadOnlyList<Account> All = new[] { new Account("root", 0, "/root"), App };

    public static Account? Find(string name) => All.FirstOrDefault(a => a.Name == name);

    /// <summary>The line of <c>/etc/passwd</c> this product writes for <paramref name="account"/>.</summary>
    public static string PasswdLine(Account account) =>
        $"{account.Name}:x:{account.Id}:{account.Id}:{account.Name}:{account.Home}:/sbin/nologin\n";

    /// <summary>The line of <c>/etc/group</c> this product writes for <paramref name="account"/>'s group.</summary>
    public static string GroupLine(Account account) => $"{account.Name}:x:{account.Id}:\n";

    /// <summary>
    /// A base image's <c>/etc/passwd</c> or <c>/etc/group</c> (<paramref name="baseText"/>, its bytes as Latin-1 so they
    /// round-trip) with the accounts of <paramref name="wanted"/> it lacks appended: its own lines kept as they are, in
    /// order. An account it has by the same name and id is its own; one whose name or id it gives another entry is not
    /// added, and is a <see cref="Conflict"/> (then the text is null) when <paramref name="needed"/> says the process needs
    /// it. The text is the base's unchanged when nothing is added.
    /// </summary>
    public static (string? Text, Conflict? Conflict) Merge(string file, string baseText, IEnumerable<Account> wanted, Func<Account, bool> needed, Func<Account, string> line)
    {
        var entries = baseText.Split('\n')
            .Select(l => (Line: l, Fields: l.Split(':')))
            .Where(e => e.Fields.Length >= 3 && e.Line.Length > 0 && e.Line[0] != '#' && e.Line[0] != '+' && e.Line[0] != '-')
            .ToList();
        var merged = new StringBuilder(baseText);
        foreach (Account account in wanted)
        {
            string id = account.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (entries.Any(e => e.Fields[0] == account.Name && e.Fields[2] == id))
            {
                continue; // the base's own entry for it: kept as it is
            }

            if (entries.FirstOrDefault(e => e.Fields[0] == account.Name || e.Fields[2] == id) is { Line: { } other })
            {
                if (needed(account))
                {
                    return (null, new Conflict(file, other, account));
                }

                continue; // its name or id is the base's for another entry, and nothing here runs as it
            }

            if (merged.Length > 0 && merged[^1] != '\n')
            {
                merged.Append('\n');
            }

            merged.Append(line(account));
        }

        return (merged.ToString(), null);
    }
}
