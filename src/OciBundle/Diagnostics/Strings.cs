// One field per entry of Strings.resx (the texts and codes live there); StringsTests checks the two agree.
namespace OciBundle.Diagnostics;

/// <summary>Every diagnostic OciBundle.Sdk reports; the texts and codes live in Strings.resx.</summary>
internal static class Strings
{
    /// <summary>OCIB1001</summary>
    public static readonly Diagnostic NonLinuxRuntimeIdentifier = new(nameof(NonLinuxRuntimeIdentifier));

    /// <summary>OCIB1002</summary>
    public static readonly Diagnostic NotExecutable = new(nameof(NotExecutable));

    /// <summary>OCIB1003</summary>
    public static readonly Diagnostic UnsupportedOS = new(nameof(UnsupportedOS));

    /// <summary>OCIB1004</summary>
    public static readonly Diagnostic UnknownArch = new(nameof(UnknownArch));

    /// <summary>OCIB1005</summary>
    public static readonly Diagnostic ArchNormalized = new(nameof(ArchNormalized));

    /// <summary>OCIB1006</summary>
    public static readonly Diagnostic ArchDisagreesWithRuntimeIdentifier = new(nameof(ArchDisagreesWithRuntimeIdentifier));

    /// <summary>OCIB1008</summary>
    public static readonly Diagnostic RequiredValueMissing = new(nameof(RequiredValueMissing));

    /// <summary>OCIB1009</summary>
    public static readonly Diagnostic InvalidSourceDateEpoch = new(nameof(InvalidSourceDateEpoch));

    /// <summary>OCIB1010</summary>
    public static readonly Diagnostic EmptyArgs = new(nameof(EmptyArgs));

    /// <summary>OCIB1011</summary>
    public static readonly Diagnostic ArgPathNotFound = new(nameof(ArgPathNotFound));

    /// <summary>OCIB1012</summary>
    public static readonly Diagnostic ArgIsFolder = new(nameof(ArgIsFolder));

    /// <summary>OCIB1013</summary>
    public static readonly Diagnostic ArgNotWorldReadable = new(nameof(ArgNotWorldReadable));

    /// <summary>OCIB1014</summary>
    public static readonly Diagnostic ArgNotProgram = new(nameof(ArgNotProgram));

    /// <summary>OCIB1020</summary>
    public static readonly Diagnostic MountDestinationNotAbsolute = new(nameof(MountDestinationNotAbsolute));

    /// <summary>OCIB1021</summary>
    public static readonly Diagnostic MountDestinationHasDotDot = new(nameof(MountDestinationHasDotDot));

    /// <summary>OCIB1022</summary>
    public static readonly Diagnostic MountTypeMissing = new(nameof(MountTypeMissing));

    /// <summary>OCIB1023</summary>
    public static readonly Diagnostic BindMountSourceNotAbsolute = new(nameof(BindMountSourceNotAbsolute));

    /// <summary>OCIB1024</summary>
    public static readonly Diagnostic MountDestinationReserved = new(nameof(MountDestinationReserved));

    /// <summary>OCIB1030</summary>
    public static readonly Diagnostic InvalidEnvironmentVariableName = new(nameof(InvalidEnvironmentVariableName));

    /// <summary>OCIB1031</summary>
    public static readonly Diagnostic InvalidEnvironmentVariableValue = new(nameof(InvalidEnvironmentVariableValue));

    /// <summary>OCIB1032</summary>
    public static readonly Diagnostic ValueTooLong = new(nameof(ValueTooLong));

    /// <summary>OCIB1033</summary>
    public static readonly Diagnostic ArgsAndEnvironmentTooLong = new(nameof(ArgsAndEnvironmentTooLong));

    /// <summary>OCIB1040</summary>
    public static readonly Diagnostic InvalidUser = new(nameof(InvalidUser));

    /// <summary>OCIB1041</summary>
    public static readonly Diagnostic UnknownUserName = new(nameof(UnknownUserName));

    /// <summary>OCIB1042</summary>
    public static readonly Diagnostic RootlessUserNotMapped = new(nameof(RootlessUserNotMapped));

    /// <summary>OCIB1043</summary>
    public static readonly Diagnostic ReservedId = new(nameof(ReservedId));

    /// <summary>OCIB1050</summary>
    public static readonly Diagnostic InvalidHostname = new(nameof(InvalidHostname));

    /// <summary>OCIB1060</summary>
    public static readonly Diagnostic UnknownSpecVersion = new(nameof(UnknownSpecVersion));

    /// <summary>OCIB1070</summary>
    public static readonly Diagnostic WorkingDirectoryNotAbsolute = new(nameof(WorkingDirectoryNotAbsolute));

    /// <summary>OCIB1071</summary>
    public static readonly Diagnostic WorkingDirectoryReserved = new(nameof(WorkingDirectoryReserved));

    /// <summary>OCIB1080</summary>
    public static readonly Diagnostic BundleDirectoryUnsafe = new(nameof(BundleDirectoryUnsafe));

    /// <summary>OCIB1081</summary>
    public static readonly Diagnostic BundleDirectoryInsidePublishDirectory = new(nameof(BundleDirectoryInsidePublishDirectory));

    /// <summary>OCIB1082</summary>
    public static readonly Diagnostic PublishDirectoryNotFound = new(nameof(PublishDirectoryNotFound));

    /// <summary>OCIB1083</summary>
    public static readonly Diagnostic OutputDirectoryNotOurs = new(nameof(OutputDirectoryNotOurs));

    /// <summary>OCIB1084</summary>
    public static readonly Diagnostic OutputPathNotAFolder = new(nameof(OutputPathNotAFolder));

    /// <summary>OCIB1085</summary>
    public static readonly Diagnostic ArchiveNotOurs = new(nameof(ArchiveNotOurs));

    /// <summary>OCIB1090</summary>
    public static readonly Diagnostic TargetPathOutsideRootfs = new(nameof(TargetPathOutsideRootfs));

    /// <summary>OCIB1091</summary>
    public static readonly Diagnostic FileSourceNotFound = new(nameof(FileSourceNotFound));

    /// <summary>OCIB1100</summary>
    public static readonly Diagnostic SysrootNotFound = new(nameof(SysrootNotFound));

    /// <summary>OCIB1110</summary>
    public static readonly Diagnostic InvalidNetwork = new(nameof(InvalidNetwork));

    /// <summary>OCIB1120</summary>
    public static readonly Diagnostic InvalidHostId = new(nameof(InvalidHostId));

    /// <summary>OCIB1121</summary>
    public static readonly Diagnostic RootlessHostIdsUnknown = new(nameof(RootlessHostIdsUnknown));

    /// <summary>OCIB1130</summary>
    public static readonly Diagnostic MultipleTargets = new(nameof(MultipleTargets));

    /// <summary>OCIB1140</summary>
    public static readonly Diagnostic NetFrameworkMSBuild = new(nameof(NetFrameworkMSBuild));

    /// <summary>OCIB1150</summary>
    public static readonly Diagnostic InvalidImageTag = new(nameof(InvalidImageTag));

    /// <summary>OCIB1151</summary>
    public static readonly Diagnostic InvalidImagePort = new(nameof(InvalidImagePort));

    /// <summary>OCIB1152</summary>
    public static readonly Diagnostic InvalidLayerCompression = new(nameof(InvalidLayerCompression));

    /// <summary>OCIB1160</summary>
    public static readonly Diagnostic InvalidCapability = new(nameof(InvalidCapability));

    /// <summary>OCIB1161</summary>
    public static readonly Diagnostic ContradictoryCapabilities = new(nameof(ContradictoryCapabilities));

    /// <summary>OCIB1170</summary>
    public static readonly Diagnostic InvalidSeccomp = new(nameof(InvalidSeccomp));

    /// <summary>OCIB1171</summary>
    public static readonly Diagnostic InvalidSeccompProfile = new(nameof(InvalidSeccompProfile));

    /// <summary>OCIB1180</summary>
    public static readonly Diagnostic InvalidHardeningPath = new(nameof(InvalidHardeningPath));

    /// <summary>OCIB1190</summary>
    public static readonly Diagnostic UnknownRlimit = new(nameof(UnknownRlimit));

    /// <summary>OCIB1191</summary>
    public static readonly Diagnostic InvalidRlimitValue = new(nameof(InvalidRlimitValue));

    /// <summary>OCIB1192</summary>
    public static readonly Diagnostic DuplicateRlimit = new(nameof(DuplicateRlimit));

    /// <summary>OCIB1200</summary>
    public static readonly Diagnostic InvalidBoolean = new(nameof(InvalidBoolean));

    /// <summary>OCIB1210</summary>
    public static readonly Diagnostic InvalidHttpPorts = new(nameof(InvalidHttpPorts));

    /// <summary>OCIB1211</summary>
    public static readonly Diagnostic PrivilegedPortWithoutCapability = new(nameof(PrivilegedPortWithoutCapability));

    /// <summary>OCIB1220</summary>
    public static readonly Diagnostic RuntimeIdentifierUnreachable = new(nameof(RuntimeIdentifierUnreachable));

    /// <summary>OCIB1300</summary>
    public static readonly Diagnostic InvalidSysrootDigest = new(nameof(InvalidSysrootDigest));

    /// <summary>OCIB1301</summary>
    public static readonly Diagnostic SysrootDigestNeedsArchive = new(nameof(SysrootDigestNeedsArchive));

    /// <summary>OCIB1302</summary>
    public static readonly Diagnostic InvalidSysrootCache = new(nameof(InvalidSysrootCache));

    /// <summary>OCIB1303</summary>
    public static readonly Diagnostic SysrootDigestMismatch = new(nameof(SysrootDigestMismatch));

    /// <summary>OCIB1304</summary>
    public static readonly Diagnostic SysrootTagNotFound = new(nameof(SysrootTagNotFound));

    /// <summary>OCIB1305</summary>
    public static readonly Diagnostic SysrootPlatformNotFound = new(nameof(SysrootPlatformNotFound));

    /// <summary>OCIB1310</summary>
    public static readonly Diagnostic SysrootEntryOutsideRoot = new(nameof(SysrootEntryOutsideRoot));

    /// <summary>OCIB1311</summary>
    public static readonly Diagnostic SysrootHardLinkOutsideRoot = new(nameof(SysrootHardLinkOutsideRoot));

    /// <summary>OCIB1312</summary>
    public static readonly Diagnostic SysrootEntryThroughSymlink = new(nameof(SysrootEntryThroughSymlink));

    /// <summary>OCIB1313</summary>
    public static readonly Diagnostic SysrootUnreadable = new(nameof(SysrootUnreadable));

    /// <summary>OCIB1314</summary>
    public static readonly Diagnostic SysrootBlobCorrupt = new(nameof(SysrootBlobCorrupt));

    /// <summary>OCIB1315</summary>
    public static readonly Diagnostic SysrootUnsupportedEntry = new(nameof(SysrootUnsupportedEntry));

    /// <summary>OCIB1316</summary>
    public static readonly Diagnostic SysrootCacheFailed = new(nameof(SysrootCacheFailed));

    /// <summary>OCIB1317</summary>
    public static readonly Diagnostic SysrootCacheNotPrivate = new(nameof(SysrootCacheNotPrivate));

    /// <summary>OCIB1322</summary>
    public static readonly Diagnostic SysrootDiffIdMismatch = new(nameof(SysrootDiffIdMismatch));

    /// <summary>OCIB1323</summary>
    public static readonly Diagnostic SysrootDiffIdCount = new(nameof(SysrootDiffIdCount));

    /// <summary>OCIB1318</summary>
    public static readonly Diagnostic SysrootFileNotPublic = new(nameof(SysrootFileNotPublic));

    /// <summary>OCIB1319</summary>
    public static readonly Diagnostic SysrootDataFileLeftOut = new(nameof(SysrootDataFileLeftOut));

    /// <summary>OCIB1500</summary>
    public static readonly Diagnostic PathHiddenByMount = new(nameof(PathHiddenByMount));

    /// <summary>OCIB1501</summary>
    public static readonly Diagnostic UnderAppHome = new(nameof(UnderAppHome));

    /// <summary>OCIB1502</summary>
    public static readonly Diagnostic PlannedUnderReplaceableFolder = new(nameof(PlannedUnderReplaceableFolder));

    /// <summary>OCIB1503</summary>
    public static readonly Diagnostic InvalidTmpfsOption = new(nameof(InvalidTmpfsOption));

    /// <summary>OCIB1504</summary>
    public static readonly Diagnostic InvalidMountField = new(nameof(InvalidMountField));

    /// <summary>OCIB1505</summary>
    public static readonly Diagnostic UnmappedMountId = new(nameof(UnmappedMountId));

    /// <summary>OCIB1506</summary>
    public static readonly Diagnostic RlimitBelowFloor = new(nameof(RlimitBelowFloor));

    /// <summary>OCIB1507</summary>
    public static readonly Diagnostic EntryPointUnusable = new(nameof(EntryPointUnusable));

    /// <summary>OCIB1400</summary>
    public static readonly Diagnostic InvalidRegistry = new(nameof(InvalidRegistry));

    /// <summary>OCIB1401</summary>
    public static readonly Diagnostic InvalidRepository = new(nameof(InvalidRepository));

    /// <summary>OCIB1402</summary>
    public static readonly Diagnostic InvalidPushTag = new(nameof(InvalidPushTag));

    /// <summary>OCIB1403</summary>
    public static readonly Diagnostic InvalidInsecureRegistry = new(nameof(InvalidInsecureRegistry));

    /// <summary>OCIB1404</summary>
    public static readonly Diagnostic DuplicateRuntimeIdentifier = new(nameof(DuplicateRuntimeIdentifier));

    /// <summary>OCIB1405</summary>
    public static readonly Diagnostic LayoutUnreadable = new(nameof(LayoutUnreadable));

    /// <summary>OCIB1410</summary>
    public static readonly Diagnostic RegistryCredentialsRefused = new(nameof(RegistryCredentialsRefused));

    /// <summary>OCIB1411</summary>
    public static readonly Diagnostic RegistryNeedsCredentials = new(nameof(RegistryNeedsCredentials));

    /// <summary>OCIB1412</summary>
    public static readonly Diagnostic RegistryDenied = new(nameof(RegistryDenied));

    /// <summary>OCIB1413</summary>
    public static readonly Diagnostic RepositoryNotFound = new(nameof(RepositoryNotFound));

    /// <summary>OCIB1414</summary>
    public static readonly Diagnostic RegistryNameInvalid = new(nameof(RegistryNameInvalid));

    /// <summary>OCIB1415</summary>
    public static readonly Diagnostic RegistryBlobUnknown = new(nameof(RegistryBlobUnknown));

    /// <summary>OCIB1416</summary>
    public static readonly Diagnostic RegistryManifestInvalid = new(nameof(RegistryManifestInvalid));

    /// <summary>OCIB1417</summary>
    public static readonly Diagnostic RegistryTlsFailed = new(nameof(RegistryTlsFailed));

    /// <summary>OCIB1418</summary>
    public static readonly Diagnostic RegistryUnreachable = new(nameof(RegistryUnreachable));

    /// <summary>OCIB1419</summary>
    public static readonly Diagnostic RegistryFailed = new(nameof(RegistryFailed));

    /// <summary>OCIB1420</summary>
    public static readonly Diagnostic CredentialHelperFailed = new(nameof(CredentialHelperFailed));

    /// <summary>OCIB1421</summary>
    public static readonly Diagnostic DockerConfigUnreadable = new(nameof(DockerConfigUnreadable));

    /// <summary>OCIB1422</summary>
    public static readonly Diagnostic TokenServerFailed = new(nameof(TokenServerFailed));

    /// <summary>OCIB1423</summary>
    public static readonly Diagnostic RegistryDigestMismatch = new(nameof(RegistryDigestMismatch));

    /// <summary>OCIB1424</summary>
    public static readonly Diagnostic RegistryLocationRefused = new(nameof(RegistryLocationRefused));

    /// <summary>OCIB1425</summary>
    public static readonly Diagnostic RegistryRedirected = new(nameof(RegistryRedirected));

    /// <summary>OCIB1469</summary>
    public static readonly Diagnostic PushUnexpectedError = new(nameof(PushUnexpectedError));

    /// <summary>OCIB1530</summary>
    public static readonly Diagnostic InvalidFileMode = new(nameof(InvalidFileMode));

    /// <summary>OCIB2001</summary>
    public static readonly Diagnostic LibraryNotFound = new(nameof(LibraryNotFound));

    /// <summary>OCIB2002</summary>
    public static readonly Diagnostic WrongMachine = new(nameof(WrongMachine));

    /// <summary>OCIB2003</summary>
    public static readonly Diagnostic CorruptElf = new(nameof(CorruptElf));

    /// <summary>OCIB2004</summary>
    public static readonly Diagnostic PathConflict = new(nameof(PathConflict));

    /// <summary>OCIB2010</summary>
    public static readonly Diagnostic IcuNotFound = new(nameof(IcuNotFound));

    /// <summary>OCIB2011</summary>
    public static readonly Diagnostic OpenSslNotFound = new(nameof(OpenSslNotFound));

    /// <summary>OCIB2012</summary>
    public static readonly Diagnostic GssapiNotFound = new(nameof(GssapiNotFound));

    /// <summary>OCIB2013</summary>
    public static readonly Diagnostic FrameworkNotFound = new(nameof(FrameworkNotFound));

    /// <summary>OCIB2014</summary>
    public static readonly Diagnostic RuntimeConfigUnreadable = new(nameof(RuntimeConfigUnreadable));

    /// <summary>OCIB2015</summary>
    public static readonly Diagnostic EntryPointNotFound = new(nameof(EntryPointNotFound));

    /// <summary>OCIB2005</summary>
    public static readonly Diagnostic LibraryNotElf = new(nameof(LibraryNotElf));

    /// <summary>OCIB2006</summary>
    public static readonly Diagnostic SysrootLacksArchitecture = new(nameof(SysrootLacksArchitecture));

    /// <summary>OCIB3001</summary>
    public static readonly Diagnostic SymlinkOutsideInputs = new(nameof(SymlinkOutsideInputs));

    /// <summary>OCIB3002</summary>
    public static readonly Diagnostic SpecialFile = new(nameof(SpecialFile));

    /// <summary>OCIB3003</summary>
    public static readonly Diagnostic BundleWriteFailed = new(nameof(BundleWriteFailed));

    /// <summary>OCIB3004</summary>
    public static readonly Diagnostic BundleLocked = new(nameof(BundleLocked));

    /// <summary>OCIB3005</summary>
    public static readonly Diagnostic PublishItemOutsideProject = new(nameof(PublishItemOutsideProject));

    /// <summary>OCIB3006</summary>
    public static readonly Diagnostic NonUtf8FileName = new(nameof(NonUtf8FileName));

    /// <summary>OCIB3007</summary>
    public static readonly Diagnostic LeftoverNotRemoved = new(nameof(LeftoverNotRemoved));
    public static readonly Diagnostic CleanKeptForeignOutput = new(nameof(CleanKeptForeignOutput));
    public static readonly Diagnostic CleanFailed = new(nameof(CleanFailed));

    /// <summary>OCIB3010</summary>
    public static readonly Diagnostic RunsAsRoot = new(nameof(RunsAsRoot));

    /// <summary>OCIB3011</summary>
    public static readonly Diagnostic ExtraCapabilities = new(nameof(ExtraCapabilities));

    /// <summary>OCIB3012</summary>
    public static readonly Diagnostic NewPrivilegesAllowed = new(nameof(NewPrivilegesAllowed));

    /// <summary>OCIB3013</summary>
    public static readonly Diagnostic SeccompUnconfined = new(nameof(SeccompUnconfined));

    /// <summary>OCIB3014</summary>
    public static readonly Diagnostic HostNetworkShared = new(nameof(HostNetworkShared));

    /// <summary>OCIB3015</summary>
    public static readonly Diagnostic HostSystemBindMount = new(nameof(HostSystemBindMount));

    /// <summary>OCIB3016</summary>
    public static readonly Diagnostic HardeningPathsCleared = new(nameof(HardeningPathsCleared));

    /// <summary>OCIB3017</summary>
    public static readonly Diagnostic KernelFileSystemMount = new(nameof(KernelFileSystemMount));

    /// <summary>OCIB3999</summary>
    public static readonly Diagnostic UnexpectedError = new(nameof(UnexpectedError));

    /// <summary>OCIB4001</summary>
    public static readonly Diagnostic RuncNotFound = new(nameof(RuncNotFound));

    /// <summary>All of them, in code order: every field above (declared before this one, so already set).</summary>
    public static IReadOnlyList<Diagnostic> All { get; } = typeof(Strings)
        .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(f => f.FieldType == typeof(Diagnostic))
        .Select(f => (Diagnostic)f.GetValue(null)!)
        .OrderBy(d => d.Code, StringComparer.Ordinal)
        .ToArray();
}
