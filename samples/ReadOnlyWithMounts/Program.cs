static string Try(Action action)
{
    try { action(); return "ok"; }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return "refused (" + e.GetType().Name + ")"; }
}

Console.WriteLine($"/data/message.txt: {(File.Exists("/data/message.txt") ? File.ReadAllText("/data/message.txt").Trim() : "(not mounted)")}");
Console.WriteLine($"write /app:   {Try(() => File.WriteAllText("/app/x", "x"))}");
Console.WriteLine($"write /tmp:   {Try(() => File.WriteAllText("/tmp/x", "x"))}");
Console.WriteLine($"write /cache: {Try(() => File.WriteAllText("/cache/x", "x"))}");
Console.WriteLine($"write /data:  {Try(() => File.WriteAllText("/data/x", "x"))}");
