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

    /// <summary>
    /// <c>user[:group]</c> by the names of an <c>/etc/passwd</c> and an <c>/etc/group</c> (the first line of a name wins,
    /// as getpwnam has it): the user's uid and the group's gid, or the user's own gid from its passwd line when no group
    /// is named; null when either name is not there.
    /// </summary>
    public static (uint Uid, uint Gid)? Resolve(string user, string passwd, string group)
    {
        string[] names = user.Split(':');
        if (Entry(passwd, names[0]) is not { Length: >= 4 } account || !Id(account[2], out uint uid))
        {
            return null;
        }

        string gidText = names.Length > 1 ? Entry(group, names[1])?[2] ?? "" : account[3];
        return Id(gidText, out uint gid) ? (uid, gid) : null;
    }

    /// <summary>The account names of an <c>/etc/passwd</c> (or group names of an <c>/etc/group</c>), in its order.</summary>
    public static IEnumerable<string> Names(string file) => Entries(file).Select(f => f[0]);

    private static bool Id(string text, out uint id) => uint.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out id);

    private static string[]? Entry(string file, string name) => Entries(file).FirstOrDefault(f => f[0] == name);

    private static IEnumerable<string[]> Entries(string file) => file.Split('\n')
        .Where(l => l.Length > 0 && l[0] != '#' && l[0] != '+' && l[0] != '-')
        .Select(l => l.Split(':'))
        .Where(f => f.Length >= 3 && f[0].Length > 0);

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
