using System.Globalization;

string greeting = Environment.GetEnvironmentVariable("GREETING") ?? "Hi";
Console.WriteLine($"{greeting} {string.Join(' ', args)}!");
Console.WriteLine($"Running as uid {File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Uid:")).Split('\t')[1]} on {Environment.MachineName}, in {Environment.CurrentDirectory}.");
Console.WriteLine($"Today in Berlin: {TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin")).ToString("D", new CultureInfo("de-DE"))}");
