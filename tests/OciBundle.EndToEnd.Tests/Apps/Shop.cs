// The EF Core + SQLite + Newtonsoft.Json app of LayeringTests and build/bench-layers.sh (one copy for both): each
// replaces SHOP_VERSION with the version it publishes, so a change of it is a one-line change of the app.
using Microsoft.EntityFrameworkCore;

using var db = new ShopContext();
db.Database.OpenConnection();
db.Database.EnsureCreated();
db.Items.Add(new Item { Name = "apple" });
db.SaveChanges();
Console.WriteLine("shop SHOP_VERSION: " + Newtonsoft.Json.JsonConvert.SerializeObject(db.Items.Select(i => i.Name).ToList()));

class Item
{
    public int Id { get; set; }
    public string Name { get; set; } = "";
}

class ShopContext : DbContext
{
    public DbSet<Item> Items => Set<Item>();

    protected override void OnConfiguring(DbContextOptionsBuilder options) => options.UseSqlite("Data Source=:memory:");
}
