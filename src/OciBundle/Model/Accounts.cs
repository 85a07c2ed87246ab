namespace OciBundle.Model;

/// <summary>The users and groups of the generated <c>/etc/passwd</c> and <c>/etc/group</c>.</summary>
internal static class Accounts
{
    internal sealed record Account(string Name, uint Id, string Home);

    /// <summary>The non-root user of Microsoft's .NET images: the process's default user, the owner of its home.</summary>
    public static readonly Account App = new("app", 1654, "/home/app");

    public static readonly IReadOnlyList<Account> All = new[] { new Account("root", 0, "/root"), App };

    public static Account? Find(string name) => All.FirstOrDefault(a => a.Name == name);
}
