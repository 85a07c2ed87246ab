using Microsoft.VisualStudio.TestTools.UnitTesting;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using OciBundle.SeccompProfiles;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>The default seccomp allow-list and users' profiles, resolved for a target and capabilities, as config.json gets them.</summary>
[TestClass]
public sealed class SeccompProfileTests
{
    private static readonly string[] NoCaps = Array.Empty<string>();
    private static readonly string[] RuncCaps = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" };

    /// <summary>The rules that name a system call.</summary>
    private static JObject[] Rules(JObject seccomp, string name) =>
        seccomp["syscalls"]!.Cast<JObject>().Where(r => r["names"]!.Values<string>().Contains(name)).ToArray();

    /// <summary>Allowed whatever its arguments.</summary>
    private static bool AllowedOutright(JObject seccomp, string name) =>
        Rules(seccomp, name).Any(r => (string)r["action"]! == "SCMP_ACT_ALLOW" && r["args"] is null);

    private static string Json(JToken token) => token.ToString(Formatting.None);

    [TestMethod]
    public void DefaultForAmd64WithoutCapabilitiesDeniesNamespacesKeysAndMountsAndKeepsThreadsWorking()
    {
        JObject seccomp = SeccompProfile.Default("amd64", NoCaps).ToJson();
        Assert.AreEqual("SCMP_ACT_ERRNO", (string)seccomp["defaultAction"]!);
        Assert.AreEqual(1, (int)seccomp["defaultErrnoRet"]!);
        Assert.AreEqual("""["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"]""", Json(seccomp["architectures"]!));
        foreach (string denied in new[] { "unshare", "keyctl", "add_key", "request_key", "bpf", "mount", "umount2", "setns", "perf_event_open", "reboot", "kcmp", "open_by_handle_at", "set_tls", "cacheflush", "io_uring_setup", "io_uring_enter", "io_uring_register" })
        {
            Assert.AreEqual(0, Rules(seccomp, denied).Length, denied + " must fall to the default action");
        }

        foreach (string allowed in new[] { "read", "futex", "mmap", "rseq", "ptrace", "arch_prctl", "modify_ldt", "name_to_handle_at", "process_vm_readv" })
        {
            Assert.IsTrue(AllowedOutright(seccomp, allowed), allowed);
        }

        JObject clone = Rules(seccomp, "clone").Single();
        Assert.AreEqual("""{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}""", Json(clone));
        Assert.AreEqual("""{"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}""", Json(Rules(seccomp, "clone3").Single()));
        Assert.AreEqual("""{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":40,"valueTwo":0,"op":"SCMP_CMP_NE"}]}""", Json(Rules(seccomp, "socket").Single()));
        Assert.AreEqual(5, Rules(seccomp, "personality").Length);
        Assert.IsTrue(seccomp["syscalls"]!.All(r => r["includes"] is null && r["excludes"] is null && r["comment"] is null));
    }

    [TestMethod]
    public void DefaultForArm64AllowsTheArmCallsAndNotTheX86Ones()
    {
        JObject seccomp = SeccompProfile.Default("arm64", RuncCaps).ToJson();
        Assert.AreEqual("""["SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"]""", Json(seccomp["architectures"]!));
        foreach (string allowed in new[] { "set_tls", "cacheflush", "breakpoint", "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2" })
        {
            Assert.IsTrue(AllowedOutright(seccomp, allowed), allowed);
        }

        Assert.AreEqual(0, Rules(seccomp, "arch_prctl").Length);
        Assert.AreEqual(0, Rules(seccomp, "modify_ldt").Length);
        Assert.AreEqual(0, Rules(seccomp, "unshare").Length);
        Assert.AreEqual("SCMP_CMP_MASKED_EQ", (string)Rules(seccomp, "clone").Single()["args"]![0]!["op"]!);
        Assert.AreEqual(38, (int)Rules(seccomp, "clone3").Single()["errnoRet"]!);
    }

    [TestMethod]
    public void CapSysAdminAllowsNamespacesMountsAndCloneUnrestricted()
    {
        JObject seccomp = SeccompProfile.Default("amd64", RuncCaps.Append("CAP_SYS_ADMIN").ToArray()).ToJson();
        foreach (string allowed in new[] { "unshare", "mount", "umount2", "setns", "clone", "clone3", "bpf", "sethostname" })
        {
            Assert.IsTrue(AllowedOutright(seccomp, allowed), allowed);
        }

        Assert.AreEqual(1, Rules(seccomp, "clone").Length, "no masked clone rule beside the unrestricted one");
        Assert.AreEqual(1, Rules(seccomp, "clone3").Length, "no ENOSYS clone3 rule beside the allowed one");
        Assert.AreEqual(0, Rules(seccomp, "keyctl").Length, "CAP_SYS_ADMIN does not open the kernel keyring");
    }

    [TestMethod]
    [DataRow("CAP_SYS_PTRACE", "kcmp")]
    [DataRow("CAP_SYS_PTRACE", "pidfd_getfd")]
    [DataRow("CAP_SYS_TIME", "settimeofday")]
    [DataRow("CAP_SYS_CHROOT", "chroot")]
    [DataRow("CAP_SYS_BOOT", "reboot")]
    [DataRow("CAP_SYS_MODULE", "finit_module")]
    [DataRow("CAP_SYS_NICE", "mbind")]
    [DataRow("CAP_DAC_READ_SEARCH", "open_by_handle_at")]
    [DataRow("CAP_BPF", "bpf")]
    [DataRow("CAP_PERFMON", "perf_event_open")]
    [DataRow("CAP_SYSLOG", "syslog")]
    public void ACapabilityAllowsItsCallsAndOnlyWithIt(string capability, string call)
    {
        Assert.IsFalse(AllowedOutright(SeccompProfile.Default("amd64", RuncCaps).ToJson(), call), call + " without " + capability);
        Assert.IsTrue(AllowedOutright(SeccompProfile.Default("amd64", RuncCaps.Append(capability).ToArray()).ToJson(), call), call + " with " + capability);
    }

    [TestMethod]
    [DataRow("386", """["SCMP_ARCH_X86"]""", "modify_ldt", "arch_prctl")]
    [DataRow("arm", """["SCMP_ARCH_ARM"]""", "set_tls", "modify_ldt")]
    [DataRow("ppc64le", """["SCMP_ARCH_PPC64LE"]""", "swapcontext", "set_tls")]
    [DataRow("s390x", """["SCMP_ARCH_S390X","SCMP_ARCH_S390"]""", "s390_runtime_instr", "arch_prctl")]
    [DataRow("riscv64", """["SCMP_ARCH_RISCV64"]""", "riscv_flush_icache", "set_tls")]
    [DataRow("loong64", """["SCMP_ARCH_LOONGARCH64"]""", "read", "arch_prctl")]
    public void EachTargetGetsItsArchitecturesAndItsOwnCalls(string goArch, string architectures, string allowed, string denied)
    {
        JObject seccomp = SeccompProfile.Default(goArch, NoCaps).ToJson();
        Assert.AreEqual(architectures, Json(seccomp["architectures"]!));
        Assert.IsTrue(AllowedOutright(seccomp, allowed), allowed);
        Assert.AreEqual(0, Rules(seccomp, denied).Length, denied);
    }

    [TestMethod]
    public void S390xChecksCloneFlagsInTheSecondArgument() =>
        Assert.AreEqual("""[{"index":1,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]""", Json(Rules(SeccompProfile.Default("s390x", NoCaps).ToJson(), "clone").Single()["args"]!));

    [TestMethod]
    public void UnknownGoArchIsTheCallersMistake() =>
        Assert.ThrowsExactly<ArgumentException>(() => SeccompProfile.Default("sparc64", NoCaps));

    private const string DockerProfile = """
{
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 1,
  "archMap": [
    { "architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
    { "architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"] },
    { "architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null }
  ],
  "syscalls": [
    { "names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": [], "comment": "always" },
    { "name": "getpid", "action": "SCMP_ACT_ALLOW" },
    { "names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["amd64", "x32"] } },
    { "names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["arm", "arm64"] } },
    { "names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": { "caps": ["CAP_SYS_ADMIN", "CAP_SYS_CHROOT"] } },
    { "names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ" }],
      "excludes": { "caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"] } },
    { "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": { "caps": ["CAP_SYS_ADMIN"] } },
    { "names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "4.8" } },
    { "names": ["uselib"], "action": "SCMP_ACT_LOG", "excludes": { "minKernel": "5.4" } },
    { "names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 0, "value": 18446744073709551615, "valueTwo": 0, "op": "SCMP_CMP_EQ" }] }
  ]
}
""";

    [TestMethod]
    public void DockerFormResolvesToPlainOciForTheTargetAndCapabilities()
    {
        Assert.AreEqual(
            """{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[""" +
            """{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},{"names":["getpid"],"action":"SCMP_ACT_ALLOW"},{"names":["arch_prctl"],"action":"SCMP_ACT_ALLOW"},""" +
            """{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},""" +
            """{"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38},{"names":["ptrace"],"action":"SCMP_ACT_ALLOW"},""" +
            """{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":18446744073709551615,"valueTwo":0,"op":"SCMP_CMP_EQ"}]}]}""",
            Json(SeccompProfile.Resolve(JObject.Parse(DockerProfile), "amd64", RuncCaps).ToJson()));

        JObject admin = SeccompProfile.Resolve(JObject.Parse(DockerProfile), "arm64", new[] { "CAP_SYS_ADMIN", "CAP_SYS_CHROOT" }).ToJson();
        Assert.AreEqual("""["SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"]""", Json(admin["architectures"]!));
        CollectionAssert.AreEqual(new[] { "read", "write", "getpid", "set_tls", "mount", "ptrace", "personality" }, admin["syscalls"]!.SelectMany(r => r["names"]!.Values<string>()).ToArray());
        Assert.AreEqual(0, Rules(SeccompProfile.Resolve(JObject.Parse(DockerProfile), "arm64", new[] { "CAP_SYS_ADMIN" }).ToJson(), "mount").Length, "includes.caps needs all of them");

        Assert.AreEqual("""["SCMP_ARCH_RISCV64"]""", Json(SeccompProfile.Resolve(JObject.Parse(DockerProfile), "riscv64", NoCaps).ToJson()["architectures"]!));
        Assert.AreEqual("""["SCMP_ARCH_PPC64LE"]""", Json(SeccompProfile.Resolve(JObject.Parse(DockerProfile), "ppc64le", NoCaps).ToJson()["architectures"]!), "an archMap without the target: its native architecture");
    }

    [TestMethod]
    public void OciFormKeepsItsArchitecturesFlagsAndListener()
    {
        var profile = JObject.Parse("""
{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"flags":["SECCOMP_FILTER_FLAG_LOG"],
 "listenerPath":"/run/agent.sock","listenerMetadata":"app",
 "syscalls":[{"names":["keyctl"],"action":"SCMP_ACT_NOTIFY"},{"names":["kexec_load"],"action":"SCMP_ACT_KILL_PROCESS"}]}
""");
        Assert.AreEqual(
            """{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"flags":["SECCOMP_FILTER_FLAG_LOG"],"listenerPath":"/run/agent.sock","listenerMetadata":"app",""" +
            "\"syscalls\":" + """[{"names":["keyctl"],"action":"SCMP_ACT_NOTIFY"},{"names":["kexec_load"],"action":"SCMP_ACT_KILL_PROCESS"}]}""",
            Json(SeccompProfile.Resolve(profile, "amd64", NoCaps).ToJson()));
        Assert.AreEqual("""{"defaultAction":"SCMP_ACT_LOG","architectures":["SCMP_ARCH_AARCH64"]}""", Json(SeccompProfile.Resolve(JObject.Parse("""{"defaultAction":"SCMP_ACT_LOG"}"""), "arm64", NoCaps).ToJson()));
    }

    [TestMethod]
    [DataRow("""{"defaultAction":"SCMP_ACT_ALOW"}""", "defaultAction", "SCMP_ACT_ALOW")]
    [DataRow("""{"syscalls":[]}""", "defaultAction", "missing")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"ALLOW"}]}""", "syscalls[0].action", "\"ALLOW\"")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":[]}]}""", "architectures", "archMap")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_AARCH64"]}""", "architectures", "SCMP_ARCH_X86_64")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_65"]}""", "architectures[0]", "SCMP_ARCH_X86_65")]
    [DataRow("""{"defaultActon":"SCMP_ACT_ERRNO"}""", "defaultActon", "unknown field")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","comment":"mine"}""", "comment", "unknown field")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ALLOW","include":{"caps":["CAP_SYS_ADMIN"]}}]}""", "syscalls[0].include", "unknown field")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_MASKED"}]}]}""", "syscalls[0].args[0].op", "SCMP_CMP_MASKED")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}""", "syscalls[0].args[0].index", "6")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]}""", "syscalls[0].args[0].value", "-1")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["Read"],"action":"SCMP_ACT_ALLOW"}]}""", "syscalls[0].names[0]", "\"Read\"")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[""],"action":"SCMP_ACT_ALLOW"}]}""", "syscalls[0].names[0]", "\"\"")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[],"action":"SCMP_ACT_ALLOW"}]}""", "syscalls[0]", "names")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"}]}""", "syscalls[0]", "\"name\" and \"names\"")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","errnoRet":1}]}""", "syscalls[0].errnoRet", "SCMP_ACT_ALLOW")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4"}}]}""", "syscalls[0].includes.minKernel", "\"4\"")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_FAST"]}""", "flags[0]", "SECCOMP_FILTER_FLAG_FAST")]
    [DataRow("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":{"names":["read"]}}""", "syscalls", "must be an array")]
    public void InvalidProfilesAreRefusedNamingTheField(string json, string field, string detail)
    {
        var e = Assert.ThrowsExactly<SeccompProfileException>(() => SeccompProfile.Resolve(JObject.Parse(json), "amd64", NoCaps));
        StringAssert.Contains(e.Message, field);
        StringAssert.Contains(e.Message, detail);
    }

    [TestMethod]
    public void TheSameInputsGiveTheSameJson()
    {
        Assert.AreEqual(SeccompProfile.Default("amd64", RuncCaps).ToJson().ToString(), SeccompProfile.Default("amd64", RuncCaps.Reverse().ToArray()).ToJson().ToString());
        Assert.AreEqual(SeccompProfile.Resolve(JObject.Parse(DockerProfile), "arm64", RuncCaps).ToJson().ToString(), SeccompProfile.Resolve(JObject.Parse(DockerProfile), "arm64", RuncCaps).ToJson().ToString());
        Assert.AreNotSame(SeccompProfile.Default("amd64", NoCaps).ToJson(), SeccompProfile.Default("amd64", NoCaps).ToJson(), "each call its own object, for the caller to embed");
    }

    [TestMethod]
    [DataRow("1.0.0")]
    [DataRow("1.2.1")]
    [DataRow("1.3.0")]
    public void TheDefaultProfileValidatesAgainstEverySupportedSchema(string version)
    {
        using var dir = new TempDirectory();
        foreach (string goArch in new[] { "amd64", "arm64" })
        {
            foreach (string[] caps in new[] { RuncCaps, RuncCaps.Append("CAP_SYS_ADMIN").ToArray() })
            {
                string path = Path.Combine(dir.Path, $"{goArch}-{caps.Length}.json");
                var config = new JObject { ["ociVersion"] = version, ["linux"] = new JObject { ["seccomp"] = SeccompProfile.Default(goArch, caps).ToJson() } };
                File.WriteAllText(path, config.ToString());
                Assert.AreEqual("", SchemaValidator.Validate(version, path), $"{goArch} with {string.Join(",", caps)} against {version}");
            }
        }
    }

    [TestMethod]
    public void ProfilesWithWhatRuntimeSpec100LacksAreTold()
    {
        Assert.IsNull(SeccompProfile.UnknownToSpec100(SeccompProfile.Default("amd64", NoCaps)));
        Assert.IsNull(SeccompProfile.DefaultArchitectureUnknownToSpec100("arm64"));
        SeccompFilter log = SeccompProfile.Resolve(JObject.Parse("""{"defaultAction":"SCMP_ACT_LOG"}"""), "amd64", NoCaps);
        Assert.AreEqual("seccomp action SCMP_ACT_LOG", SeccompProfile.UnknownToSpec100(log));
        SeccompFilter kill = SeccompProfile.Resolve(JObject.Parse("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_KILL_PROCESS"}]}"""), "amd64", NoCaps);
        Assert.AreEqual("seccomp action SCMP_ACT_KILL_PROCESS", SeccompProfile.UnknownToSpec100(kill));
    }

    [TestMethod]
    public void TheNewerSchemasKnowEveryTargetsArchitectureAndV100DoesNotKnowRiscvOrLoongArch()
    {
        using var dir = new TempDirectory();
        foreach (string goArch in new[] { "386", "arm", "ppc64le", "s390x", "riscv64", "loong64" })
        {
            string path = Path.Combine(dir.Path, goArch + ".json");
            foreach (string version in new[] { "1.0.0", "1.2.1", "1.3.0" })
            {
                File.WriteAllText(path, new JObject { ["ociVersion"] = version, ["linux"] = new JObject { ["seccomp"] = SeccompProfile.Default(goArch, NoCaps).ToJson() } }.ToString());
                string errors = SchemaValidator.Validate(version, path);
                if (version == "1.0.0" && goArch is "riscv64" or "loong64")
                {
                    // Which is why a 1.0.0 bundle for them is a coded error (OCIB1171), never a config that fails its schema.
                    StringAssert.Contains(errors, "architectures");
                    Assert.IsNotNull(SeccompProfile.DefaultArchitectureUnknownToSpec100(goArch));
                }
                else
                {
                    Assert.AreEqual("", errors, $"{goArch} against {version}");
                }
            }
        }
    }
}
