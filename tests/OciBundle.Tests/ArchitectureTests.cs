using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using OciBundle.Testing;

namespace OciBundle.Tests;

/// <summary>
/// The engine's shape, read from its source with Roslyn: its folders depend one way, in the order of the "Layers" table
/// of docs/architecture.md (the one place that order is written); no file is over 400 lines and no method over 80,
/// but for today's offenders, listed here, which may only shrink.
/// </summary>
[TestClass]
public sealed class ArchitectureTests
{
    private const int MaxFileLines = 400;
    private const int MaxMethodLines = 80;

    /// <summary>Files over <see cref="MaxFileLines"/> when the limit came, and their lines then. One may shrink, none may grow, a fixed one leaves the list, and none joins it.</summary>
    private static readonly Dictionary<string, int> LongFiles = new(StringComparer.Ordinal)
    {
    };

    /// <summary>Methods over <see cref="MaxMethodLines"/> when the limit came (file: type.member), and their lines then; the same rule as <see cref="LongFiles"/>.</summary>
    private static readonly Dictionary<string, int> LongMethods = new(StringComparer.Ordinal)
    {
    };

    private static readonly Lazy<EngineSource> Engine = new(() => EngineSource.Read());

    [TestMethod]
    public void EveryFolderUsesOnlyTheFoldersBelowItInTheLayersTable()
    {
        IReadOnlyList<string> layers = Layers();
        EngineSource source = Engine.Value;
        var unlisted = source.Folders.Except(layers).ToList();
        var gone = layers.Except(source.Folders).ToList();
        Assert.IsTrue(unlisted.Count == 0 && gone.Count == 0, $"docs/architecture.md's Layers table and src/OciBundle/ disagree: folders not in the table: [{string.Join(", ", unlisted)}]; rows for folders that do not exist: [{string.Join(", ", gone)}]");

        List<Use> upward = Upward(source, layers);
        Assert.AreEqual(0, source.Unbound.Count, "names the compiler could not bind, so their uses are unknown:\n" + string.Join("\n", source.Unbound.Take(20)));
        Assert.AreEqual(0, upward.Count, $"{upward.Count} uses of a folder above (the order is docs/architecture.md's Layers table):\n" + string.Join("\n", upward.Take(60)));

        List<string> misnamed = source.NamedLikeAFolder().ToList();
        Assert.AreEqual(0, misnamed.Count, "names that read as a folder ('x.Images.Count' reads as a use of Images/):\n" + string.Join("\n", misnamed));
    }

    [TestMethod]
    public void AUseOfAFolderAboveIsFoundByTheCompilerAndByTheName()
    {
        // The rule above must be able to fail: plant one use the compiler sees and one only the text shows.
        EngineSource planted = Engine.Value.With(new Dictionary<string, string>
        {
            ["Model/PlantedUpward.cs"] = "using OciBundle.Images;\n\nnamespace OciBundle.Model;\ninternal static class PlantedUpward\n{\n    public static Type Planner => typeof(OciBundle.Planning.BundlePlanner);\n}\n",
            ["Request/PlantedByName.cs"] = "namespace OciBundle.Request;\ninternal sealed class PlantedByName\n{\n    public int BundleWriter { get; init; }\n\n    public int Images { get; init; }\n}\n",
        });
        var found = Upward(planted, Layers(), f => f.RelativePath.Contains("/Planted", StringComparison.Ordinal)).Select(u => $"{u.File}: {u.From} -> {u.To}: {u.Name} {(u.ByCompiler ? "bound" : "spelled")}").ToList();
        CollectionAssert.AreEquivalent(
            new[]
            {
                "Model/PlantedUpward.cs: Model -> Images: Images bound", // a using directive
                "Model/PlantedUpward.cs: Model -> Planning: Planning bound", // a namespace
                "Model/PlantedUpward.cs: Model -> Planning: BundlePlanner bound",
                "Request/PlantedByName.cs: Request -> Rootfs: BundleWriter spelled", // a property named like a type of Rootfs
            },
            found,
            string.Join("\n", found));
        CollectionAssert.AreEqual(new[] { "src/OciBundle/Request/PlantedByName.cs:6: 'Images' is declared here and is a folder" }, planted.NamedLikeAFolder(f => f.RelativePath.Contains("/Planted", StringComparison.Ordinal)).ToList());
    }

    [TestMethod]
    public void NoFileIsOver400LinesButTheListedOnesWhichMayOnlyShrink()
    {
        var sizes = Engine.Value.Files.ToDictionary(f => f.RelativePath, f => f.Tree.GetText().ToString().Count(c => c == '\n'), StringComparer.Ordinal);
        AssertOnlyListedOffenders(sizes, MaxFileLines, LongFiles, "file");
    }

    [TestMethod]
    public void NoMethodIsOver80LinesButTheListedOnesWhichMayOnlyShrink()
    {
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (SourceFile file in Engine.Value.Files)
        {
            foreach (SyntaxNode member in file.Tree.GetRoot().DescendantNodes().Where(n => n is BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or LocalFunctionStatementSyntax))
            {
                string key = $"{file.RelativePath}: {MemberName(member)}";
                sizes[key] = Math.Max(sizes.GetValueOrDefault(key), LinesOf(member));
            }
        }

        AssertOnlyListedOffenders(sizes, MaxMethodLines, LongMethods, "method");
    }

    /// <summary>The folders of the Layers table of docs/architecture.md, top to bottom: each may use only those after it.</summary>
    private static IReadOnlyList<string> Layers()
    {
        string path = Path.Combine(TestEnvironment.RepoRoot, "docs", "architecture.md");
        Assert.IsTrue(File.Exists(path), $"{path} is missing: it holds the order of the engine's folders");
        string[] lines = File.ReadAllLines(path);
        int start = Array.FindIndex(lines, l => l.Trim() == "## Layers");
        Assert.IsTrue(start >= 0, $"{path} has no '## Layers' section");
        var folders = new List<string>();
        for (int i = start + 1; i < lines.Length && !lines[i].StartsWith("## ", StringComparison.Ordinal); i++)
        {
            if (Regex.Match(lines[i], @"^\|\s*`([^`]+)`\s*\|") is { Success: true } row)
            {
                folders.Add(row.Groups[1].Value.TrimEnd('/'));
            }
        }

        Assert.IsTrue(folders.Count >= 10 && folders.Distinct().Count() == folders.Count, $"the Layers table of {path} names each folder once: [{string.Join(", ", folders)}]");
        return folders;
    }

    private static List<Use> Upward(EngineSource source, IReadOnlyList<string> layers, Func<SourceFile, bool>? only = null)
    {
        var rank = layers.Select((folder, index) => (folder, index)).ToDictionary(p => p.folder, p => p.index, StringComparer.Ordinal);
        var upward = source.Uses(only)
            .Where(u => rank.TryGetValue(u.From, out int from) && rank.TryGetValue(u.To, out int to) && to < from)
            .Distinct()
            .ToList();

        // A name the compiler binds is reported as bound; one it does not is only spelled like the other folder's.
        var bound = upward.Where(u => u.ByCompiler).Select(u => (u.File, u.Line, u.To, u.Name)).ToHashSet();
        return upward.Where(u => u.ByCompiler || !bound.Contains((u.File, u.Line, u.To, u.Name.TrimEnd('.'))))
            .OrderBy(u => u.File, StringComparer.Ordinal).ThenBy(u => u.Line)
            .ToList();
    }

    private static void AssertOnlyListedOffenders(IReadOnlyDictionary<string, int> sizes, int limit, IReadOnlyDictionary<string, int> listed, string what)
    {
        var problems = new List<string>();
        foreach ((string key, int lines) in sizes.Where(s => s.Value > limit).OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (!listed.TryGetValue(key, out int allowed))
            {
                problems.Add($"{key}: {lines} lines, over {limit}: split it (a new {what} over the limit is not listed, and none may be)");
            }
            else if (lines > allowed)
            {
                problems.Add($"{key}: {lines} lines, more than the {allowed} it had when the limit came: it may only shrink");
            }
        }

        foreach (string key in listed.Keys.Where(k => sizes.GetValueOrDefault(k) <= limit).Order(StringComparer.Ordinal))
        {
            problems.Add($"{key}: listed as over {limit} lines, but {(sizes.ContainsKey(key) ? $"it has {sizes[key]}" : "it is gone")}: take it off the list");
        }

        Assert.AreEqual(0, problems.Count, string.Join("\n", problems));
    }

    /// <summary>From the member's first line (after its attributes) to its last.</summary>
    private static int LinesOf(SyntaxNode member)
    {
        SyntaxToken first = member.DescendantTokens().First(t => !t.Parent!.AncestorsAndSelf().Any(a => a is AttributeListSyntax));
        FileLinePositionSpan span = member.SyntaxTree.GetLineSpan(Microsoft.CodeAnalysis.Text.TextSpan.FromBounds(first.SpanStart, member.Span.End));
        return span.EndLinePosition.Line - span.StartLinePosition.Line + 1;
    }

    /// <summary><c>Type.Method</c>, <c>Type.ctor</c>, <c>Type.Property.get</c>, <c>Type.Method.LocalFunction</c>; nested types as <c>Outer.Inner</c>.</summary>
    private static string MemberName(SyntaxNode member)
    {
        var parts = new List<string>();
        for (SyntaxNode? node = member; node is not null; node = node.Parent)
        {
            string? part = node switch
            {
                MethodDeclarationSyntax m => m.Identifier.ValueText,
                ConstructorDeclarationSyntax => "ctor",
                DestructorDeclarationSyntax => "finalizer",
                OperatorDeclarationSyntax o => "operator " + o.OperatorToken.ValueText,
                ConversionOperatorDeclarationSyntax c => "operator " + c.Type,
                AccessorDeclarationSyntax a => a.Keyword.ValueText,
                PropertyDeclarationSyntax p => p.Identifier.ValueText,
                IndexerDeclarationSyntax => "this[]",
                EventDeclarationSyntax e => e.Identifier.ValueText,
                LocalFunctionStatementSyntax l => l.Identifier.ValueText,
                BaseTypeDeclarationSyntax t => t.Identifier.ValueText,
                _ => null,
            };
            if (part is not null)
            {
                parts.Insert(0, part);
            }
        }

        return string.Join('.', parts);
    }

    private sealed record SourceFile(string RelativePath, string Folder, SyntaxTree Tree);

    /// <summary>A file of <paramref name="From"/> names something of <paramref name="To"/>: bound by the compiler, or only spelled like it.</summary>
    private sealed record Use(string From, string To, string File, int Line, string Name, bool ByCompiler, string What)
    {
        public override string ToString() => ByCompiler
            ? $"src/OciBundle/{File}:{Line}: {From} -> {To}: {Name}, which is {What}"
            : $"src/OciBundle/{File}:{Line}: {From} -> {To}: '{Name}' is spelled like {What} (a reader of the text sees a use: rename one of them)";
    }

    /// <summary>The engine's source, parsed and compiled in memory (no source generators: their partial methods stay unimplemented).</summary>
    private sealed class EngineSource
    {
        private const string RootFolder = "(root)";

        // The usings ImplicitUsings gives a Microsoft.NET.Sdk project (Directory.Build.props enables it).
        private const string ImplicitUsings = "global using System;\nglobal using System.Collections.Generic;\nglobal using System.IO;\nglobal using System.Linq;\nglobal using System.Net.Http;\nglobal using System.Threading;\nglobal using System.Threading.Tasks;\n";

        private static readonly CSharpParseOptions Options = new(LanguageVersion.Latest);

        private readonly Dictionary<SyntaxTree, SourceFile> _byTree = new();

        /// <summary>Every type and delegate, nested and private ones too, by name: the folders that declare one so named.</summary>
        private readonly Dictionary<string, HashSet<string>> _declaredTypes = new(StringComparer.Ordinal);

        /// <summary>The name of everything the engine declares (and its folders): only a name among these can bind to the engine's own.</summary>
        private readonly HashSet<string> _declaredNames = new(StringComparer.Ordinal);

        private EngineSource(IReadOnlyList<SourceFile> files, CSharpCompilation compilation)
        {
            Files = files;
            Compilation = compilation;
            foreach (SourceFile file in files)
            {
                _byTree[file.Tree] = file;
                _declaredNames.Add(file.Folder);
                foreach (SyntaxNode node in file.Tree.GetRoot().DescendantNodes())
                {
                    string? type = node switch { BaseTypeDeclarationSyntax t => t.Identifier.ValueText, DelegateDeclarationSyntax d => d.Identifier.ValueText, _ => null };
                    if (type is not null)
                    {
                        (_declaredTypes.TryGetValue(type, out HashSet<string>? set) ? set : _declaredTypes[type] = new HashSet<string>(StringComparer.Ordinal)).Add(file.Folder);
                    }

                    if (Declared(node) is { } name)
                    {
                        _declaredNames.Add(name);
                    }
                }
            }
        }

        public IReadOnlyList<SourceFile> Files { get; }

        public CSharpCompilation Compilation { get; }

        public IEnumerable<string> Folders => Files.Select(f => f.Folder).Distinct(StringComparer.Ordinal);

        /// <summary>Names of the engine's the compiler could not bind while <see cref="Uses"/> read them: none, or its view is incomplete.</summary>
        public System.Collections.Concurrent.ConcurrentBag<string> Unbound { get; } = new();

        /// <summary>src/OciBundle/**/*.cs; fails, never skips, when the source is not there or does not compile.</summary>
        public static EngineSource Read()
        {
            string root = Path.Combine(TestEnvironment.RepoRoot, "src", "OciBundle");
            Assert.IsTrue(File.Exists(Path.Combine(root, "OciBundle.csproj")), $"the engine's source is not at {root}");
            var texts = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/'))
                .Where(p => !p.StartsWith("bin/", StringComparison.Ordinal) && !p.StartsWith("obj/", StringComparison.Ordinal))
                .ToDictionary(p => p, p => File.ReadAllText(Path.Combine(root, p)), StringComparer.Ordinal);
            Assert.IsTrue(texts.Count >= 50, $"only {texts.Count} source files under {root}");
            List<SourceFile> files = Parse(texts);
            var compilation = CSharpCompilation.Create(
                "OciBundle.Layering",
                files.Select(f => f.Tree).Append(CSharpSyntaxTree.ParseText(ImplicitUsings, Options, path: "ImplicitUsings.cs")),
                References(),
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));

            // Every type, member and signature must bind (the references and usings are right), but for the partial methods
            // the missing source generators ([GeneratedRegex], [LibraryImport]) would implement (CS8795): else the
            // compiler's view is wrong, and so would every use it reports be. Method bodies are bound below, name by name.
            var errors = compilation.GetDeclarationDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id != "CS8795").ToList();
            Assert.AreEqual(0, errors.Count, "the engine's source does not compile in the test: " + string.Join("\n", errors.Take(20)));
            return new EngineSource(files, compilation);
        }

        /// <summary>This source and more files (relative path to text), compiled together.</summary>
        public EngineSource With(IReadOnlyDictionary<string, string> extra)
        {
            List<SourceFile> added = Parse(extra);
            return new EngineSource(Files.Concat(added).ToList(), Compilation.AddSyntaxTrees(added.Select(f => f.Tree)));
        }

        private static List<SourceFile> Parse(IReadOnlyDictionary<string, string> texts) => texts.OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => new SourceFile(t.Key, t.Key.Contains('/') ? t.Key[..t.Key.IndexOf('/')] : RootFolder, CSharpSyntaxTree.ParseText(t.Value, Options, path: t.Key)))
            .ToList();

        /// <summary>Every use of another folder: what the compiler binds each name to, and what the names spell.</summary>
        public IEnumerable<Use> Uses(Func<SourceFile, bool>? only = null) => Files.Where(only ?? (_ => true)).SelectMany(f => BoundUses(f).Concat(SpelledUses(f)));

        /// <summary>Properties, fields, locals, parameters, methods and types named like a folder: a reader of the text takes <c>x.Name.y</c> for a use of it.</summary>
        public IEnumerable<string> NamedLikeAFolder(Func<SourceFile, bool>? only = null)
        {
            var folders = Folders.ToHashSet(StringComparer.Ordinal);
            return Files.Where(only ?? (_ => true)).SelectMany(file => file.Tree.GetRoot().DescendantTokens()
                .Where(t => t.IsKind(SyntaxKind.IdentifierToken) && t.Parent is not SimpleNameSyntax && folders.Contains(t.ValueText))
                .Select(t => $"src/OciBundle/{file.RelativePath}:{Line(t)}: '{t.ValueText}' is declared here and is a folder"));
        }

        private IEnumerable<Use> BoundUses(SourceFile file)
        {
            SemanticModel model = Compilation.GetSemanticModel(file.Tree);
            foreach (SimpleNameSyntax name in file.Tree.GetRoot().DescendantNodes().OfType<SimpleNameSyntax>())
            {
                if (name is IdentifierNameSyntax { IsVar: true } || !_declaredNames.Contains(name.Identifier.ValueText))
                {
                    continue;
                }

                SymbolInfo info = model.GetSymbolInfo(name);
                ISymbol? symbol = info.Symbol ?? info.CandidateSymbols.FirstOrDefault();
                if (symbol is null)
                {
                    Unbound.Add($"src/OciBundle/{file.RelativePath}:{Line(name.Identifier)}: {name}");
                }
                else if (FolderOf(symbol) is { } folder && folder != file.Folder)
                {
                    yield return new Use(file.Folder, folder, file.RelativePath, Line(name.Identifier), name.Identifier.ValueText, true, symbol!.ToDisplayString());
                }
            }
        }

        private IEnumerable<Use> SpelledUses(SourceFile file)
        {
            var folders = Folders.ToHashSet(StringComparer.Ordinal);
            foreach (SyntaxToken token in file.Tree.GetRoot().DescendantTokens().Where(t => t.IsKind(SyntaxKind.IdentifierToken)))
            {
                string name = token.ValueText;
                if (_declaredTypes.TryGetValue(name, out HashSet<string>? owners) && !owners.Contains(file.Folder))
                {
                    foreach (string owner in owners)
                    {
                        yield return new Use(file.Folder, owner, file.RelativePath, Line(token), name, false, $"a type of {owner}");
                    }
                }

                if (folders.Contains(name) && name != file.Folder && token.GetNextToken().IsKind(SyntaxKind.DotToken))
                {
                    yield return new Use(file.Folder, name, file.RelativePath, Line(token), name + ".", false, $"the folder {name}");
                }
            }
        }

        /// <summary>The folder a symbol is declared in: a namespace <c>OciBundle.X</c> is folder X; a type or member, its declaring file's; null when not the engine's.</summary>
        private string? FolderOf(ISymbol? symbol)
        {
            switch (symbol)
            {
                case IAliasSymbol alias:
                    return FolderOf(alias.Target);
                case INamespaceSymbol ns:
                    return ns.ContainingNamespace is { Name: "OciBundle", ContainingNamespace.IsGlobalNamespace: true } ? ns.Name : null;
                case INamedTypeSymbol or IMethodSymbol or IPropertySymbol or IFieldSymbol or IEventSymbol:
                    INamedTypeSymbol? type = symbol as INamedTypeSymbol ?? (symbol as IMethodSymbol)?.ReducedFrom?.ContainingType ?? symbol.ContainingType;
                    SyntaxTree? tree = type?.OriginalDefinition.DeclaringSyntaxReferences.FirstOrDefault()?.SyntaxTree;
                    return tree is not null && _byTree.TryGetValue(tree, out SourceFile? declaring) ? declaring.Folder : null;
                default:
                    return null; // locals, parameters, type parameters, labels
            }
        }

        private static string? Declared(SyntaxNode node) => node switch
        {
            BaseTypeDeclarationSyntax t => t.Identifier.ValueText,
            DelegateDeclarationSyntax d => d.Identifier.ValueText,
            MethodDeclarationSyntax m => m.Identifier.ValueText,
            PropertyDeclarationSyntax p => p.Identifier.ValueText,
            EventDeclarationSyntax e => e.Identifier.ValueText,
            VariableDeclaratorSyntax { Parent.Parent: BaseFieldDeclarationSyntax } v => v.Identifier.ValueText,
            EnumMemberDeclarationSyntax e => e.Identifier.ValueText,
            ParameterSyntax { Parent.Parent: RecordDeclarationSyntax } p => p.Identifier.ValueText, // a record's positional property
            BaseNamespaceDeclarationSyntax n => n.Name.ToString().Split('.')[^1],
            _ => null,
        };

        private static int Line(SyntaxToken token) => token.GetLocation().GetLineSpan().StartLinePosition.Line + 1;

        /// <summary>The framework and the engine's packages, as this test process has them; never the engine's own assembly, whose types the source declares.</summary>
        private static IEnumerable<MetadataReference> References() =>
            ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
                .Where(p => p.EndsWith(".dll", StringComparison.Ordinal) && !Path.GetFileName(p).StartsWith("OciBundle", StringComparison.Ordinal))
                .Select(p => MetadataReference.CreateFromFile(p));
    }
}
