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
        string host = baseImage?.Root + path;
        if (baseImage is null || !InRealFolder(baseImage.Root, path)
            || NativeMethods.LStat(host) is not { } s || (s.Mode & NativeMethods.S_IFMT) != NativeMethods.S_IFREG || (long)s.Size > MaxSize)
        {
            // No base, or a base without one (or with a link, or not a file there): the product's own.
            plan.AddContent(path, Encoding.ASCII.GetBytes(string.Concat(Accounts.All.Select(line))), FileModes.Data, reason + " (generated)");
            return;
        }

        string text = Encoding.Latin1.GetString(File.ReadAllBytes(host));
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
