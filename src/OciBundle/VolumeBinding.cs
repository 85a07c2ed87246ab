namespace OciBundle;

/// <summary>
/// A volume of the bundle and the host folder it binds, for the task's output line (a class, not a tuple: a framework
/// list of a value type is compiled on every publish).
/// </summary>
internal sealed record VolumeBinding(string Path, string HostFolder);
