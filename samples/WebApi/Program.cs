var app = WebApplication.CreateSlimBuilder(args).Build();
app.MapGet("/", () => $"Hello from {Environment.MachineName}, an OCI bundle on .NET {Environment.Version}");

if (args.Contains("--self-test"))
{
    // Serve one request from inside the container and exit: how the end-to-end test checks the server.
    await app.StartAsync();
    using var http = new HttpClient();
    Console.WriteLine(await http.GetStringAsync($"http://localhost:{Environment.GetEnvironmentVariable("ASPNETCORE_HTTP_PORTS")}/"));
    await app.StopAsync();
    return;
}

app.Run();
