using OciBundle.Diagnostics;
using OciBundle.Model;
using OciBundle.Request;

namespace OciBundle.Rootfs;

/// <summary>
/// What runc does to start the container's program, done on the plan at publish so a bundle never fails there: it
/// changes to the working directory, looks a name without '/' up in the <c>PATH</c> of the process's environment
/// (Go's exec.LookPath: a regular file with an execute bit), and executes it as the process's user, which needs
/// search permission on every folder on the way, execute permission on the file, and for a <c>#!</c> script read
/// permission and an interpreter the bundle holds. A program under one of the user's mounts is the mount's to
/// provide; the bundle's own mounts (<c>/tmp</c>, <c>/dev</c>...) provide none.
/// </summary>
internal static class EntryPointCheck
{
    private const int MaxLinkHops = 40;
    private const int Search = 1, Read = 4;

    /// <param name="plan">The bundle's files.</param>
    /// <param name="args">process.args.</param>
    /// <param name="environment">process.env (for PATH).</param>
    /// <param name="process">The working directory, the user and its capabilities; whether OciBundleArg named the program.</param>
    /// <param name="shadow">The container's mounts.</param>
    public static void Check(RootfsPlan plan, IReadOnlyList<string> args, IReadOnlyList<KeyValuePair<string, string>> environment, ProcessSpec process, MountShadow shadow)
    {
        bool named = process.Args.Count > 0;
        string program = args.Count > 0 ? args[0] : "";
        string from = named ? "from OciBundleArg" : "the app's entry point";
        var user = new Caller(process.User.Uid, process.User.Gid, process.Capabilities.Effective.Contains("CAP_DAC_OVERRIDE"));
        OciBundleException Unusable(string why, string runc) => new(Strings.EntryPointUnusable, program, from, why, runc);

        if (Walk(plan, process.WorkingDirectory, user) is { Problem: { } cwdProblem })
        {
            throw Unusable($"cannot start in the working directory {process.WorkingDirectory}: {cwdProblem}", $"chdir to cwd (\"{process.WorkingDirectory}\") set in config.json failed");
        }

        if (program.Trim().Length == 0)
        {
            throw Unusable("is empty", "exec: \"\": executable file not found in $PATH");
        }

        string path = program.StartsWith('/') ? ContainerPath.Normalize(program)
            : program.Contains('/') ? ContainerPath.Normalize(process.WorkingDirectory + "/" + program)
            : LookPath(plan, program, environment, shadow)
                ?? throw Unusable($"is not in any folder of the PATH ({environment.LastOrDefault(e => e.Key == "PATH").Value ?? "not set"}) that the bundle holds", $"exec: \"{program}\": executable file not found in $PATH");

        if (shadow.Hider(path) is { } mount)
        {
            if (named && mount.User)
            {
                return; // the user's mount provides it when the container runs
            }

            throw new OciBundleException(Strings.PathHiddenByMount, $"the container's program '{program}' ({from})", mount.Destination, mount.What);
        }

        // The kernel resolves the path as written: a trailing '/' (or '/.') after a file, or a '..' after one, is ENOTDIR,
        // although the same path normalized names the file.
        string written = program.StartsWith('/') ? program : program.Contains('/') ? process.WorkingDirectory + "/" + program : path;
        if (program.Contains('/') && (written.EndsWith('/') || written.EndsWith("/.", StringComparison.Ordinal)) && Walk(plan, path, user).Entry is { Kind: RootfsEntryKind.File })
        {
            throw Unusable("ends with '/' after the name of a file", $"exec: \"{program}\": not a directory");
        }

        Reached found = Walk(plan, written, user);
        if (found.Problem is { } problem)
        {
            throw Unusable(problem, "exec: permission denied, or no such file or directory");
        }

        if (found.Entry is not { Kind: RootfsEntryKind.File } file)
        {
            throw Unusable(found.Entry is null ? "is not in the bundle" : "is a folder", "exec: no such file or directory");
        }

        if (!user.May(file, Search))
        {
            throw Unusable($"may not be executed by uid {user.Uid} (mode {Mode(file)})", $"exec {program}: permission denied");
        }

        if (Head(file, 4) is { Length: 4 } magic && !(magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F') && !(magic[0] == '#' && magic[1] == '!'))
        {
            throw Unusable("is neither an ELF program nor a #! script", "exec format error");
        }

        // The app's own entry point is the SDK's app host or the app itself (ELF, its loader in the closure); a program
        // OciBundleArg names may be a script.
        if (named && Interpreter(file) is { } interpreter)
        {
            Reached shell = interpreter.StartsWith('/') ? Walk(plan, ContainerPath.Normalize(interpreter), user) : default;
            if (!user.May(file, Read))
            {
                throw Unusable($"is a script uid {user.Uid} may not read (mode {Mode(file)})", "the interpreter cannot open it");
            }

            if (shell.Problem is not null || shell.Entry is not { Kind: RootfsEntryKind.File } sh || !user.May(sh, Search))
            {
                throw Unusable($"is a script whose interpreter '{interpreter}' the bundle does not hold, or uid {user.Uid} may not run", "exec: no such file or directory");
            }
        }
    }

    /// <summary>Go's exec.LookPath over the absolute folders of PATH (runc 1.1 refuses a relative result): a planned regular file with an execute bit, or a path under one of the user's mounts.</summary>
    private static string? LookPath(RootfsPlan plan, string name, IReadOnlyList<KeyValuePair<string, string>> environment, MountShadow shadow)
    {
        string? searchPath = environment.LastOrDefault(e => e.Key == "PATH").Value;
        foreach (string dir in (searchPath ?? "").Split(':').Where(d => d.StartsWith('/')))
        {
            string candidate = ContainerPath.Normalize(dir + "/" + name);
            if (shadow.Hider(candidate) is { User: true })
            {
                return candidate;
            }

            if (shadow.Hider(candidate) is null && Walk(plan, candidate, Caller.Root).Entry is { Kind: RootfsEntryKind.File } file && ((int)file.Mode & 0b001_001_001) != 0)
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The planned entry a path leads to, symlinks followed as the kernel follows them, and the first folder on the way the caller may not search.</summary>
    private static Reached Walk(RootfsPlan plan, string path, Caller user)
    {
        var pending = new Stack<string>(Enumerable.Reverse(path.Split('/', StringSplitOptions.RemoveEmptyEntries)));
        string current = "/";
        int hops = 0;
        plan.TryGet("/", out RootfsEntry entry);
        while (pending.Count > 0)
        {
            if (!user.May(entry, Search))
            {
                return new Reached(null, $"uid {user.Uid} may not enter {current} (mode {Mode(entry)})");
            }

            string part = pending.Pop();
            string next = part == ".." ? RootfsPlan.Parent(current) : part == "." ? current : current == "/" ? "/" + part : current + "/" + part;
            if (!plan.TryGet(next, out RootfsEntry found))
            {
                return default;
            }

            if (found.Kind == RootfsEntryKind.Symlink)
            {
                if (++hops > MaxLinkHops)
                {
                    return new Reached(null, "is a loop of symlinks");
                }

                foreach (string p in Enumerable.Reverse(found.LinkTarget!.Split('/', StringSplitOptions.RemoveEmptyEntries)))
                {
                    pending.Push(p);
                }

                if (found.LinkTarget!.StartsWith('/'))
                {
                    current = "/";
                    plan.TryGet("/", out entry);
                }

                continue;
            }

            if (found.Kind == RootfsEntryKind.File && pending.Count > 0)
            {
                return default; // a file used as a folder: ENOTDIR
            }

            (current, entry) = (next, found);
        }

        return new Reached(entry, null);
    }

    /// <summary>The interpreter a file's <c>#!</c> line names, or null when it is not a script.</summary>
    public static string? Interpreter(RootfsEntry file)
    {
        byte[]? head = Head(file, 256);
        if (head is not { Length: >= 2 } || head[0] != '#' || head[1] != '!')
        {
            return null;
        }

        string line = System.Text.Encoding.UTF8.GetString(head, 2, head.Length - 2).Split('\n')[0];
        return line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
    }

    /// <summary>The first bytes of a planned file (fewer when it is shorter); null when its source cannot be read.</summary>
    private static byte[]? Head(RootfsEntry file, int count)
    {
        if (file.Content is { } content)
        {
            return content[..Math.Min(content.Length, count)];
        }

        try
        {
            using var stream = new FileStream(file.SourcePath!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            byte[] head = new byte[count];
            return head[..stream.ReadAtLeast(head, count, throwOnEndOfStream: false)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string Mode(RootfsEntry entry) => Convert.ToString((int)entry.Mode & 0xFFF, 8).PadLeft(4, '0');

    private readonly record struct Reached(RootfsEntry? Entry, string? Problem);

    /// <summary>The process as the kernel checks it: its ids (no supplementary groups: runc adds none) and whether CAP_DAC_OVERRIDE is in effect.</summary>
    private sealed record Caller(uint Uid, uint Gid, bool DacOverride)
    {
        public static readonly Caller Root = new(0, 0, true);

        /// <summary>Whether the caller has <paramref name="bit"/> (1 search or execute, 4 read) on an entry owned by its <c>OwnerId</c>, else root.</summary>
        public bool May(RootfsEntry entry, int bit)
        {
            int mode = (int)entry.Mode;
            if (DacOverride)
            {
                // Execute still needs one execute bit on a file; search and read are granted.
                return entry.Kind == RootfsEntryKind.Directory || bit != Search || (mode & 0b001_001_001) != 0;
            }

            uint owner = (uint)(entry.OwnerId ?? 0);
            int shift = Uid == owner ? 6 : Gid == owner ? 3 : 0;
            return ((mode >> shift) & bit) != 0;
        }
    }
}
