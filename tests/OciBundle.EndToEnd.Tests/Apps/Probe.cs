// The app the end-to-end tests publish. Each mode prints what a user would check from inside the container.
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

string mode = args.Length > 0 ? args[0] : "hello";
switch (mode)
{
    case "hello":
        Console.WriteLine("Hello from an OCI bundle!");
        Console.WriteLine($"args: {string.Join(" | ", args)}");
        return 3;

    case "dotnet":
        // Everything .NET loads with dlopen or reads from data files: ICU, OpenSSL, time zones, CA certificates.
        var de = new CultureInfo("de-DE");
        Console.WriteLine($"number: {1234567.891.ToString("N2", de)}");
        Console.WriteLine($"date: {new DateTime(2024, 3, 1, 14, 5, 0).ToString("F", de)}");
        Console.WriteLine($"compare: {string.Compare("Straße", "Strasse", de, CompareOptions.IgnoreNonSpace)} {string.Compare("a", "B", StringComparison.CurrentCultureIgnoreCase)} {"ǅ".ToUpper(de)}");
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        Console.WriteLine($"tz: {berlin.Id} {TimeZoneInfo.ConvertTimeFromUtc(new DateTime(2024, 7, 1, 12, 0, 0, DateTimeKind.Utc), berlin):HH:mm}");
        Console.WriteLine($"sha256: {Convert.ToHexString(SHA256.HashData("abc"u8))}");
        using (var rsa = RSA.Create(2048))
        {
            byte[] signature = rsa.SignData("payload"u8, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
            Console.WriteLine($"rsa: {rsa.VerifyData("payload"u8, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss)}");
        }

        using (var aes = new AesGcm(new byte[32], 16))
        {
            byte[] plain = "secret"u8.ToArray(), cipher = new byte[plain.Length], tag = new byte[16], back = new byte[plain.Length];
            aes.Encrypt(new byte[12], plain, cipher, tag);
            aes.Decrypt(new byte[12], cipher, tag, back);
            Console.WriteLine($"aesgcm: {Encoding.UTF8.GetString(back)}");
        }

        var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Optimal, leaveOpen: true)) z.Write(Encoding.UTF8.GetBytes(new string('x', 1000)));
        gz.Position = 0;
        using (var unz = new StreamReader(new GZipStream(gz, CompressionMode.Decompress))) Console.WriteLine($"gzip: {unz.ReadToEnd().Length}");
        using (var store = new X509Store(StoreName.Root, StoreLocation.LocalMachine))
        {
            store.Open(OpenFlags.ReadOnly);
            Console.WriteLine($"roots: {store.Certificates.Count}");
        }

        string temp = Path.Combine(Path.GetTempPath(), "probe.txt");
        File.WriteAllText(temp, "ok");
        Console.WriteLine($"temp: {File.ReadAllText(temp)}");
        return 0;

    case "sysroot":
        // Which native files the app runs on: the ICU it loaded, the C library, the machine, the distribution.
        _ = 1234.5.ToString("N2", new CultureInfo("de-DE"));
        _ = string.Compare("a", "B", new CultureInfo("de-DE"), CompareOptions.IgnoreCase);
        string icu = File.ReadAllLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(p => p.Length >= 6)
            .Select(p => Path.GetFileName(p[5])).FirstOrDefault(n => n.StartsWith("libicuuc.so.", StringComparison.Ordinal)) ?? "(none)";
        Console.WriteLine($"icu: {icu}");
        Console.WriteLine($"libc: {System.Runtime.InteropServices.Marshal.PtrToStringUTF8(GnuGetLibcVersion())}");
        Console.WriteLine($"machine: {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}");
        Console.WriteLine($"os: {(File.Exists("/etc/os-release") ? File.ReadAllLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal)) : "(none)")}");
        Console.WriteLine($"date: {new DateTime(2024, 3, 1, 14, 5, 0).ToString("D", new CultureInfo("de-DE"))}");
        Console.WriteLine($"tz: {TimeZoneInfo.ConvertTimeFromUtc(new DateTime(2024, 7, 1, 12, 0, 0, DateTimeKind.Utc), TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin")):HH:mm}");
        Console.WriteLine($"sha256: {Convert.ToHexString(SHA256.HashData("abc"u8))[..8]}");
        return 0;

    case "surface":
        // What the project's declarations turn into inside the container.
        string status = File.ReadAllText("/proc/self/status");
        string Field(string name) => status.Split('\n').First(l => l.StartsWith(name + ":")).Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1];
        Console.WriteLine($"uid: {Field("Uid")}");
        Console.WriteLine($"nonewprivs: {Field("NoNewPrivs")}");
        Console.WriteLine($"hostname: {Environment.MachineName}");
        Console.WriteLine($"cwd: {Environment.CurrentDirectory}");
        Console.WriteLine($"greeting: {Environment.GetEnvironmentVariable("GREETING")}");
        Console.WriteLine($"args: {string.Join(" | ", args.Skip(1))}");
        Console.WriteLine($"mounted: {(File.Exists("/data/message.txt") ? File.ReadAllText("/data/message.txt").Trim() : "(none)")}");
        Console.WriteLine($"file: {(File.Exists("/etc/probe/settings.txt") ? File.ReadAllText("/etc/probe/settings.txt").Trim() : "(none)")}");
        Console.WriteLine($"write /app: {TryWrite("/app/probe-write")}");
        Console.WriteLine($"write /tmp: {TryWrite("/tmp/probe-write")}");
        return 0;

    case "confine":
        // What confines the process, from the kernel's own view: capabilities, no_new_privs, seccomp, limits, and
        // what a few system calls a container should not make answer.
        string self = File.ReadAllText("/proc/self/status");
        string Status(string name) => self.Split('\n').First(l => l.StartsWith(name + ":")).Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1];
        foreach (string set in new[] { "CapEff", "CapPrm", "CapInh", "CapAmb" })
        {
            Console.WriteLine($"{set}: {Status(set)}");
        }

        Console.WriteLine($"NoNewPrivs: {Status("NoNewPrivs")}");
        Console.WriteLine($"Seccomp: {Status("Seccomp")}");
        bool arm = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64;
        Console.WriteLine($"unshare: {Errno(Syscall(arm ? 97 : 272, 0x10000000, 0, 0))}"); // CLONE_NEWUSER
        Console.WriteLine($"keyctl: {Errno(Syscall(arm ? 219 : 250, 0, -3, 0))}"); // KEYCTL_GET_KEYRING_ID, the session keyring
        Console.WriteLine($"bpf: {Errno(Syscall(arm ? 280 : 321, 0, 0, 0))}"); // BPF_MAP_CREATE without attributes
        Console.WriteLine($"io_uring_setup: {Errno(Syscall(425, 1, 0, 0))}"); // no parameters: EFAULT from the kernel, if it gets that far
        try
        {
            var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 80);
            listener.Start();
            listener.Stop();
            Console.WriteLine("bind 80: ok");
        }
        catch (System.Net.Sockets.SocketException e)
        {
            Console.WriteLine($"bind 80: {e.SocketErrorCode}");
        }

        // What an ordinary app does must still work under the filter: server GC, the thread pool, starting a process.
        Console.WriteLine($"server gc: {System.Runtime.GCSettings.IsServerGC}");
        int sum = 0;
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => Interlocked.Add(ref sum, i));
        Console.WriteLine($"thread pool: {sum}");
        if (File.Exists("/bin/sh"))
        {
            using var child = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/bin/sh", new[] { "-c", "echo child of $PPID" }) { RedirectStandardOutput = true })!;
            string said = child.StandardOutput.ReadToEnd().Trim();
            child.WaitForExit();
            Console.WriteLine($"child: {said} exit {child.ExitCode}");
        }

        string limits = File.ReadAllLines("/proc/self/limits").First(l => l.StartsWith("Max open files"));
        Console.WriteLine($"nofile: {string.Join(' ', limits.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(3).Take(2))}");
        Console.WriteLine($"write /app: {TryWrite("/app/probe-write")}");
        Console.WriteLine($"write /tmp: {TryWrite("/tmp/probe-write")}");
        if (Directory.Exists("/cache"))
        {
            Console.WriteLine($"write /cache: {TryWrite("/cache/probe-write")}");
        }

        return 0;

    default:
        Console.Error.WriteLine($"unknown mode {mode}");
        return 2;
}

static long Syscall(long number, long a, long b, long c)
{
    long rc = SyscallNative(number, a, b, c, 0, 0);
    return rc < 0 ? -System.Runtime.InteropServices.Marshal.GetLastPInvokeError() : rc;
}

static string Errno(long rc) => rc switch
{
    >= 0 => "ok",
    -1 => "EPERM",
    -13 => "EACCES",
    -14 => "EFAULT",
    -22 => "EINVAL",
    -38 => "ENOSYS",
    _ => $"errno {-rc}",
};

[System.Runtime.InteropServices.DllImport("libc", EntryPoint = "gnu_get_libc_version")]
static extern IntPtr GnuGetLibcVersion();

[System.Runtime.InteropServices.DllImport("libc", EntryPoint = "syscall", SetLastError = true)]
static extern long SyscallNative(long number, long a, long b, long c, long d, long e);

static string TryWrite(string path)
{
    try
    {
        File.WriteAllText(path, "x");
        return "ok";
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
        return e is UnauthorizedAccessException ? "denied" : "read-only";
    }
}
