using System.Text;
using OciBundle.Diagnostics;
using OciBundle.Interop;
using OciBundle.Model;
using OciBundle.Request;
using OciBundle.Sysroots;

namespace OciBundle.Planning.Steps;

/// <summary>
/// <c>/etc/passwd</c> and <c>/etc/group</c>: without a base image, the product's own (root and the app user). With one, its <c>/etc/passwd</c> and <c>/etc/group</c> are its own accounts (root, daemon, the shadow group,
/// nobody, a service user): they are kept, line for line, and the product's accounts (root, the app user) appended only
/// where the base lacks them. An account the base has by the same name and id is the base's; one whose name or id the
/// base gives another entry, when the process runs as it, is OCIB1660. A file the base does not change is not planned:
/// the base's layers carry it.
/// </summary>
internal static class AccountFiles
{
    /// <summary>The most of a base's account file read: far more than any real one.</summary>
    private const long MaxSize = 16 << 20;

    public static void Plan(PlanContext context)
    {
        UserSpec user = context.Process.User;
        PlanFile(context.Plan, context.Base, "/etc/passwd", Accounts.PasswdLine, a => a.Id == user.Uid && a.Id != 0, user, "accounts: root and the app user");
        PlanFile(context.Plan, context.Base, "/etc/group", Accounts.GroupLine, a => a.Id == user.Gid && a.Id != 0, user, "groups: root and the app user");
    }

    /// <summary>
    /// <see cref="UserSpec.Name"/> (a name the product's accounts lack, given with a base) by the accounts of the tree at
    /// <paramref name="root"/> as the bundle has them (the base's lines, then root and the app user where it lacks
    /// them): its uid and gid, or OCIB1041 listing the names there. Any other user is as it was parsed.
    /// </summary>
    public static UserSpec Resolve(UserSpec user, string? root)
    {
        if (user.Name is not { } name)
        {
            return user;
        }

        string passwd = Merged(root, "/etc/passwd", Accounts.PasswdLine), group = Merged(root, "/etc/group", Accounts.GroupLine);
        return Accounts.Resolve(name, passwd, group) is { } ids ? new UserSpec(ids.Uid, ids.Gid)
            : throw new OciBundleException(Strings.UnknownUserName, name, string.Join(", ", Accounts.Names(passwd)));
    }

    /// <summary>A base's account file with root and the app user added where it lacks them (never a conflict: only names are looked up), or the product's own.</summary>
    private static string Merged(string? root, string path, Func<Accounts.Account, string> line) =>
        root is not null && BaseText(root, path) is { } text ? Accounts.Merge(path, text, Accounts.All, _ => false, line).Text! : string.Concat(Accounts.All.Select(line));

    /// <summary>The tree's file at <paramref name="path"/> as Latin-1 text; null when it is not a regular file of a real folder, or too large.</summary>
    private static string? BaseText(string root, string path) =>
        InRealFolder(root, path) && NativeMethods.LStat(root + path) is { } s && (s.Mode & NativeMethods.S_IFMT) == NativeMethods.S_IFREG && (long)s.Size <= MaxSize
            ? Encoding.Latin1.GetString(File.ReadAllBytes(root + path)) : null;

    /// <summary>Whether the base's tree has <paramref name="path"/> (a file, a link, anything), not following a link.</summary>
    public static bool Has(BaseImage baseImage, string path) => InRealFolder(baseImage.Root, path) && NativeMethods.LStat(baseImage.Root + path) is not null;

    /// <summary>
    /// Whether every folder above <paramref name="path"/> in the base's tree is a folder, not a link: the base's
    /// <c>/etc</c> as a link to <c>/etc</c> would otherwise lead to the build machine's accounts.
    /// </summary>
    private static bool InRealFolder(string root, string path)
    {
        for (string parent = RootfsPlan.Parent(path); parent != "/"; parent = RootfsPlan.Parent(parent))
        {
            if (NativeMethods.LStat(root + parent) is not { } d || (d.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFDIR)
            {
                return false;
            }
        }

        return true;
    }

    private static void PlanFile(RootfsPlan plan, BaseImage? baseImage, string path, Func<Accounts.Account, string> line, Func<Accounts.Account, bool> needed, UserSpec user, string reason)
    {
        if (baseImage is null || BaseText(baseImage.Root, path) is not { } text)
        {
            // No base, or a base without one (or with a link, or not a file there): the product's own.
            plan.AddContent(path, Encoding.ASCII.GetBytes(string.Concat(Accounts.All.Select(line))), FileModes.Data, reason + " (generated)");
            return;
        }

        (string? merged, Accounts.Conflict? conflict) = Accounts.Merge(path, text, Accounts.All, needed, line);
        if (conflict is not null)
        {
            throw new OciBundleException(Strings.BaseAccountConflict, baseImage.Source, conflict.File, conflict.Line, conflict.Wanted.Name, conflict.Wanted.Id, $"{user.Uid}:{user.Gid}");
        }

        if (merged != text)
        {
            plan.AddContent(path, Encoding.Latin1.GetBytes(merged!), FileModes.Data, reason + ": the base image's, the missing ones added");
        }
    }
}
