using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace OciBundle.Testing;

/// <summary>
/// Validates JSON against the OCI schemas in ../shared (runtime-spec and image-spec, draft-04) and SPDX 2.3's
/// (draft-07) with Debian's python3-jsonschema, the validator each schema's <c>$schema</c> names. No .NET JSON Schema library that handles draft-04 restores here
/// (NJsonSchema and JsonSchema.Net miss dependencies on the feed, and JsonSchema.Net has no draft-04 at all).
/// As ../shared/README.md says, v1.0.0's schemas carry "id" keys that break relative $refs: they are removed in memory.
/// </summary>
public static class SchemaValidator
{
    private const string Script = """
import json, os, sys
from jsonschema import Draft4Validator, RefResolver
from jsonschema.validators import validator_for
schema_dir, schema_file, target = sys.argv[1], sys.argv[2], sys.argv[3]
def strip_ids(node):
    if isinstance(node, dict):
        return {k: strip_ids(v) for k, v in node.items() if not (k == 'id' and isinstance(v, str))}
    if isinstance(node, list):
        return [strip_ids(v) for v in node]
    return node
store = {}
for name in os.listdir(schema_dir):
    if name.endswith('.json'):
        with open(os.path.join(schema_dir, name)) as f:
            store['file://' + os.path.join(schema_dir, name)] = strip_ids(json.load(f))
base = 'file://' + os.path.join(schema_dir, schema_file)
schema = store[base]
resolver = RefResolver(base_uri=base, referrer=schema, store=store)
with open(target) as f:
    doc = json.load(f)
# The OCI schemas are draft-04 (some without $schema); SPDX 2.3's says draft-07.
cls = validator_for(schema, default=Draft4Validator)
errors = sorted(cls(schema, resolver=resolver).iter_errors(doc), key=lambda e: list(e.path))
for e in errors:
    print('/'.join(str(p) for p in e.path) + ': ' + e.message)
sys.exit(1 if errors else 0)
""";

    /// <summary>Validates a config.json against the runtime-spec schema of a version. Empty when valid.</summary>
    public static string Validate(string specVersion, string configPath) =>
        ValidateWith(TestEnvironment.RequireShared("oci-runtime-spec", "v" + specVersion, "schema"), "config-schema.json", configPath);

    /// <summary>Validates an image layout document (index, manifest, config) against an image-spec v1.1.1 schema. Empty when valid.</summary>
    public static string ValidateImage(string schemaFile, string documentPath) =>
        ValidateWith(TestEnvironment.RequireShared("oci-image-spec", "v1.1.1", "schema"), schemaFile, documentPath);

    /// <summary>Validates an SPDX document against the SPDX 2.3 JSON schema (draft-07) in ../shared/spdx. Empty when valid.</summary>
    public static string ValidateSpdx(string documentPath) =>
        ValidateWith(TestEnvironment.RequireShared("spdx"), "spdx-schema-2.3.json", documentPath);

    /// <summary>Returns the validation errors (empty when valid). Skips (fails in CI) without python3-jsonschema or ../shared.</summary>
    private static string ValidateWith(string schemaDir, string schemaFile, string documentPath)
    {
        TestEnvironment.Require(File.Exists("/usr/bin/python3") && TestEnvironment.RunCapture("/usr/bin/python3", "-c", "import jsonschema").ExitCode == 0,
            "python3-jsonschema (Debian) validates config.json against the OCI schemas");
        // The script as an argument, not a file: no fixed temporary name for two test assemblies to race on.
        ProcessResult result = TestEnvironment.RunCapture("/usr/bin/python3", "-c", Script, schemaDir, schemaFile, documentPath);
        if (result.ExitCode is not (0 or 1))
        {
            Assert.Fail("The schema validator itself failed: " + result.All);
        }

        return result.ExitCode == 0 ? "" : result.All.Trim();
    }
}
