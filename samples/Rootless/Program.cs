string Field(string name) => File.ReadAllLines("/proc/self/status").First(l => l.StartsWith(name + ":")).Split('\t')[1];
string map = File.ReadAllText("/proc/self/uid_map").Trim();
Console.WriteLine($"uid {Field("Uid")} inside, mapped as '{map}' (container id, host id, count)");
