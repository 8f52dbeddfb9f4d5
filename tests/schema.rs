//! The published JSON Schemas (docs/schema/) describe what the commands really print: real
//! output of every command (store, connect — a real `openssl s_server` and a refused port —,
//! verify, inspect, check as one document and as JSON Lines) is validated against them.
//!
//! Every object in the schemas is closed (`additionalProperties: false`), so a field added
//! to a wire type fails here with its JSON path until the schema says what it is — or, for
//! a renamed or removed field, until the schema version is bumped (CLI.md).

#[path = "common/ship.rs"]
mod ship;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The `$id` prefix of every schema in docs/schema/ (a name, never fetched).
const BASE: &str = "https://tlsdoctor.invalid/schema/";

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema")
}

/// Serves `$ref`s between the schemas from docs/schema/ (nothing is fetched).
struct LocalSchemas;

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .as_str()
            .strip_prefix(BASE)
            .ok_or_else(|| format!("{} is not one of docs/schema/", uri.as_str()))?;
        Ok(load(name))
    }
}

fn load(name: &str) -> Value {
    let path = schema_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// The schema file for a document's `schema` value (`tlsdoctor.check-report/v1` ->
/// `check-report-v1.schema.json`).
fn schema_file(id: &str) -> String {
    let rest = id
        .strip_prefix("tlsdoctor.")
        .unwrap_or_else(|| panic!("unknown schema {id:?}"));
    format!("{}.schema.json", rest.replace('/', "-"))
}

/// Validate `doc` against the schema its own `schema` field names; panic with every
/// violation's JSON path, what was found and the schema rule.
fn validate(what: &str, doc: &Value) {
    let id = doc["schema"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no \"schema\" field"));
    let file = schema_file(id);
    let path = schema_dir().join(&file);
    assert!(
        path.is_file(),
        "{what}: prints \"schema\": {id:?} but docs/schema/{file} does not exist: publish a schema \
         for it (a new version is a new file)"
    );
    let schema = load(&file);
    let validator = jsonschema::options()
        .with_retriever(LocalSchemas)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("docs/schema/{file} is not a valid schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| {
            format!(
                "  at {} (schema rule {}): {e}",
                if e.instance_path().as_str().is_empty() {
                    "/"
                } else {
                    e.instance_path().as_str()
                },
                e.schema_path().as_str()
            )
        })
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the output does not match docs/schema/{file} — update the schema (a new field: \
         describe it there; a renamed or removed one: bump the version):\n{}",
        errors.join("\n")
    );
}

fn json_of(what: &str, out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not one JSON document ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn run(args: &[&str]) -> std::process::Output {
    ship::tlsdoctor_cmd().args(args).output().unwrap()
}

/// A World with a CA bundle where Debian keeps it, and a chain issued by that CA.
struct Lab {
    dir: tempfile::TempDir,
    ca: ship::Issued,
    leaf: ship::Issued,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let ca = ship::ca(dir.path(), "ca", "Schema Test Root");
        let leaf = ship::leaf(
            dir.path(),
            "leaf",
            &["localhost", "127.0.0.1"],
            (2025, 1, 1),
            (2035, 1, 1),
            &ca,
        );
        let certs = dir.path().join("root/etc/ssl/certs");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(&ca.cert_path, certs.join("ca-certificates.crt")).unwrap();
        Lab { dir, ca, leaf }
    }
    fn root(&self) -> String {
        self.dir.path().join("root").display().to_string()
    }
    fn p(p: &Path) -> &str {
        p.to_str().unwrap()
    }
}

#[test]
fn store_output_matches_its_schema() {
    let lab = Lab::new();
    let root = lab.root();
    for args in [
        vec!["--root", &root, "store", "--json"],
        vec!["--root", &root, "store", "--json", "--list", "-v"],
        vec![
            "--root",
            &root,
            "--env",
            "SSL_CERT_FILE=/missing.pem",
            "store",
            "--json",
        ],
        vec!["--root", &root, "store", "--json", "--find", "Schema Test Root"],
        vec![
            "--root",
            &root,
            "store",
            "--json",
            "--find",
            Lab::p(&lab.leaf.cert_path),
        ],
    ] {
        let out = run(&args);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{args:?}: {out:?}");
        validate(&format!("tlsdoctor {}", args.join(" ")), &json_of("store", &out));
    }
}

#[test]
fn verify_and_inspect_output_match_their_schemas() {
    let lab = Lab::new();
    let root = lab.root();
    let leaf = Lab::p(&lab.leaf.cert_path);
    let ca = Lab::p(&lab.ca.cert_path);
    let at = "2030-06-01T00:00:00Z";
    for (args, code) in [
        (
            vec![
                "verify",
                leaf,
                "--name",
                "localhost",
                "--ca",
                ca,
                "--at",
                at,
                "--json",
            ],
            0,
        ),
        (
            vec![
                "verify",
                leaf,
                "--name",
                "wrong.test",
                "--ca",
                ca,
                "--at",
                at,
                "--json",
            ],
            1,
        ),
        (
            vec![
                "--root",
                &root,
                "verify",
                leaf,
                "--at",
                "2040-01-01T00:00:00Z",
                "--json",
            ],
            1,
        ),
        (
            vec![
                "--root",
                &root,
                "verify",
                leaf,
                "--json",
                "--at",
                at,
                "--runtime",
                "go",
            ],
            0,
        ),
        (vec!["inspect", leaf, ca, "--json"], 0),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
        validate(&format!("tlsdoctor {}", args.join(" ")), &json_of("verify", &out));
    }
}

#[test]
fn connect_and_check_output_match_their_schemas() {
    let Some(openssl) = ship::need("openssl") else {
        return;
    };
    let lab = Lab::new();
    let server = ship::SServer::start(&openssl, &lab.leaf.cert_path, &lab.leaf.key_path, &[]);
    let ok = format!("127.0.0.1:{}", server.port);
    let refused = format!("127.0.0.1:{}", ship::refused_port());
    let ca = Lab::p(&lab.ca.cert_path);
    for (args, code) in [
        (
            vec!["connect", &ok, "--name", "localhost", "--ca", ca, "--json"],
            0,
        ),
        (
            vec!["connect", &ok, "--name", "other.test", "--ca", ca, "--json"],
            1,
        ),
        (
            vec!["--root", &lab.root(), "connect", &ok, "--json", "--timeout", "5s"],
            1,
        ),
        (
            vec!["connect", &refused, "--ca", ca, "--json", "--timeout", "2s"],
            3,
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
        validate(
            &format!("tlsdoctor {}", args.join(" ")),
            &json_of("connect", &out),
        );
    }

    let spec = lab.dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "[defaults]\nca = \"ca.pem\"\nstarttls = \"none\"\ntimeout = \"3s\"\n\
             [[target]]\nid = \"ok\"\ntarget = \"{ok}\"\nname = \"localhost\"\nmin_days = 1\n\
             issuer = \"Schema Test Root\"\ntls_min = \"1.2\"\n\
             [[target]]\nid = \"wrong-name\"\ntarget = \"{ok}\"\nname = \"other.test\"\n\
             [[target]]\nid = \"refused\"\ntarget = \"{refused}\"\n"
        ),
    )
    .unwrap();
    let spec = Lab::p(&spec);
    let out = run(&["check", spec, "--format", "json"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let report = json_of("check --format json", &out);
    assert_eq!(report["targets"].as_array().map(Vec::len), Some(3));
    validate("tlsdoctor check --format json", &report);

    let out = run(&["check", spec, "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        validate("a line of tlsdoctor check --format jsonl", &v);
    }
}

/// `--all-processes` on this machine: every group line and the summary, for `store --find`
/// and `verify`.
#[test]
fn all_processes_lines_match_their_schema() {
    let lab = Lab::new();
    for args in [
        vec![
            "--all-processes",
            "--format",
            "jsonl",
            "store",
            "--find",
            Lab::p(&lab.ca.cert_path),
        ],
        vec!["--all-processes", "--json", "verify", Lab::p(&lab.leaf.cert_path)],
    ] {
        let out = run(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.lines().count() >= 2, "{text}");
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            validate(&format!("a line of tlsdoctor {}", args.join(" ")), &v);
        }
    }
}

/// A pod whose CA is staged but not installed: `verify` and `connect` propose a patch, and
/// the documents with it match their schemas.
#[test]
fn a_proposed_patch_matches_the_verify_and_connect_schemas() {
    let lab = Lab::new();
    let corp = ship::ca(lab.dir.path(), "corp", "Schema Corp Root");
    let leaf = ship::leaf(
        lab.dir.path(),
        "corp-leaf",
        &["localhost"],
        (2025, 1, 1),
        (2035, 1, 1),
        &corp,
    );
    let pem = std::fs::read_to_string(&corp.cert_path).unwrap();
    let indented: String = pem.lines().map(|l| format!("    {l}\n")).collect();
    let manifest = lab.dir.path().join("pod.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n  - name: app\n    volumeMounts:\n    - name: ca\n      mountPath: /usr/local/share/ca-certificates\n  volumes:\n  - name: ca\n    configMap:\n      name: corp\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: corp\ndata:\n  corp.crt: |\n{indented}"
        ),
    )
    .unwrap();
    let out = run(&[
        "--root",
        &lab.root(),
        "--manifest",
        Lab::p(&manifest),
        "verify",
        Lab::p(&leaf.cert_path),
        "--name",
        "localhost",
        "--runtime",
        "go",
        "--json",
    ]);
    let doc = json_of("verify with a patch", &out);
    assert_eq!(doc["patch"]["proven"], true, "{doc}");
    validate("tlsdoctor verify with a proposed patch", &doc);

    // `connect` to a real `openssl s_server` presenting that leaf proposes the same patch.
    let Some(openssl) = ship::need("openssl") else {
        return;
    };
    let server = ship::SServer::start(&openssl, &leaf.cert_path, &leaf.key_path, &[]);
    let target = format!("127.0.0.1:{}", server.port);
    let out = run(&[
        "--root",
        &lab.root(),
        "--manifest",
        Lab::p(&manifest),
        "connect",
        &target,
        "--name",
        "localhost",
        "--runtime",
        "go",
        "--json",
    ]);
    let c = json_of("connect with a patch", &out);
    assert_eq!(c["patch"]["proven"], true, "{c}");
    assert_eq!(c["patch"]["json_patch"], doc["patch"]["json_patch"], "{c}");
    validate("tlsdoctor connect with a proposed patch", &c);
}

/// The schemas themselves: valid JSON Schema (2020-12), one per documented `schema` value,
/// and a violation is reported with its path (the message other engineers will read).
#[test]
fn schemas_are_valid_and_violations_name_their_path() {
    for entry in std::fs::read_dir(schema_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let schema = load(&name);
        assert_eq!(schema["$id"], format!("{BASE}{name}"), "{name}: $id");
        jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("{name}: {e}"));
        jsonschema::options()
            .with_retriever(LocalSchemas)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for id in [
        "tlsdoctor.store/v1",
        "tlsdoctor.connect/v1",
        "tlsdoctor.verify/v1",
        "tlsdoctor.inspect/v1",
        "tlsdoctor.check/v1",
        "tlsdoctor.check-report/v1",
        "tlsdoctor.processes/v1",
    ] {
        assert!(schema_dir().join(schema_file(id)).is_file(), "{id}");
    }
    let bad = serde_json::json!({
        "schema": "tlsdoctor.inspect/v1",
        "files": [{"path": "x", "certificates": [], "errors": [], "skipped": [], "new_field": 1}]
    });
    let msg = std::panic::catch_unwind(|| validate("a document with a new field", &bad))
        .expect_err("an unknown field must fail");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("/files/0") && msg.contains("new_field"), "{msg}");
}
