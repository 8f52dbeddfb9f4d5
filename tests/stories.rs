//! The seeds' Kubernetes stories (docs/KUBERNETES-STORIES.md), each as a worked example:
//! a fixture tree made into an image by `umoci`, the manifest the team wrote, the chain the
//! server sends. For each story:
//!
//! 1. `tlsdoctor --image … --manifest … verify` gives, per runtime, the verdict the REAL
//!    runtime gives inside that pod: the pod's World is materialised into a directory, a
//!    static Go verifier runs chrooted there, Debian 13's `openssl verify` and a `python3`
//!    client run with the pod's files laid over that root, all with the pod's environment;
//! 2. the proposed patch is the expected strategy and is proven (re-evaluated internally);
//! 3. the patch as printed (its JSON patch and new ConfigMaps) is applied to the manifest
//!    here, and both tlsdoctor and the real runtimes, in the pod built from the patched
//!    manifest, trust the chain;
//! 4. every `tlsdoctor` command the doc shows is one this test runs, verbatim.

#[path = "common/store.rs"]
mod common;
#[path = "common/pod.rs"]
mod pod;
#[path = "common/runtimes.rs"]
mod rt;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

const NAME: &str = "good.test";
const DOC: &str = include_str!("../docs/KUBERNETES-STORIES.md");

fn b64(data: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn indent(text: &str, n: usize) -> String {
    text.lines().map(|l| format!("{}{l}\n", " ".repeat(n))).collect()
}

struct Story {
    /// Directory name and file prefix (`flux` → flux.yaml).
    name: &'static str,
    tree: Fs,
    image_env: Vec<(&'static str, &'static str)>,
    /// The manifest, as the team wrote it.
    manifest: String,
    runtimes: &'static [&'static str],
    /// Which runtimes trust the chain before the patch.
    trusted_before: &'static [&'static str],
    strategy: &'static str,
    pki: rt::Pki,
    /// The program trusts only this file of the pod (a Helm repository's `caFile`): given
    /// to tlsdoctor as `--ca-in-world`, and the real runtime is a Helm-like Go client.
    ca_file: Option<&'static str>,
}

/// Run tlsdoctor in `dir` with `args` (relative file names, as the doc shows them).
fn tlsdoctor_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(bin())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The port the doc shows for `connect`; the test swaps in the real server's.
const DOC_PORT: &str = "8443";

/// `tlsdoctor --image image --manifest M connect 127.0.0.1:PORT --name good.test --runtime …`
fn connect_args(story: &Story, manifest: &str, port: &str) -> Vec<String> {
    let mut a: Vec<String> = [
        "--image",
        "image",
        "--manifest",
        manifest,
        "connect",
        &format!("127.0.0.1:{port}"),
        "--name",
        NAME,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for r in story.runtimes {
        a.push("--runtime".into());
        a.push(r.to_string());
    }
    if let Some(f) = story.ca_file {
        a.push("--ca-in-world".into());
        a.push(f.into());
    }
    a
}

/// The patch as `connect` printed it is the one `verify` printed: the same change, CA and
/// proof (the proof's messages are each command's own wording, and not compared).
fn assert_same_patch(story: &str, verify: &Value, connect: &Value) {
    for k in [
        "workload",
        "container",
        "ca",
        "strategy",
        "summary",
        "strategic_merge",
        "json_patch",
        "new_objects",
        "proven",
        "not_covered",
    ] {
        assert_eq!(
            verify[k], connect[k],
            "{story}: `{k}` differs between verify and connect"
        );
    }
    let proof = |p: &Value| -> Vec<(Value, Value, Value, Value, Value)> {
        p["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["runtime"].clone(),
                    r["before"].clone(),
                    r["after"].clone(),
                    r["trusted_after"].clone(),
                    r["anchors_lost"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(proof(verify), proof(connect), "{story}: the proofs differ");
}

fn verify_args(story: &Story, manifest: &str) -> Vec<String> {
    let mut a: Vec<String> = [
        "--image",
        "image",
        "--manifest",
        manifest,
        "verify",
        "chain.pem",
        "--name",
        NAME,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for r in story.runtimes {
        a.push("--runtime".into());
        a.push(r.to_string());
    }
    if let Some(f) = story.ca_file {
        a.push("--ca-in-world".into());
        a.push(f.into());
    }
    a
}

/// Every runtime's verdict, as the real runtime gives it inside the pod built from
/// `manifest` over the image.
fn real_verdicts(
    story: &Story,
    dir: &Path,
    manifest: &Path,
    trixie: &Path,
) -> BTreeMap<String, (bool, String)> {
    let w = tlsdoctor::world::World::from_image(&dir.join("image"), None).unwrap();
    let w = tlsdoctor::world::manifest::apply(w, &[manifest.to_path_buf()], None).unwrap();
    let tree = tempfile::tempdir().unwrap();
    pod::materialise(&w, Path::new("/"), tree.path());
    let env = w.env().clone();
    let chain = format!("{}{}", story.pki.leaf.pem(), story.pki.int.pem());
    std::fs::write(tree.path().join("leaf.pem"), story.pki.leaf.pem()).unwrap();
    std::fs::write(tree.path().join("int.pem"), story.pki.int.pem()).unwrap();
    std::fs::write(tree.path().join("client.py"), rt::PY_CLIENT).unwrap();
    let mut out = BTreeMap::new();
    for r in story.runtimes {
        let (ok, said) = match *r {
            "go" if story.ca_file.is_some() => {
                // Helm's HTTP getter with the repository's caFile, against the server.
                let srv = rt::Server::start(&story.pki.leaf, &[&story.pki.int]);
                let url = format!("https://{NAME}:{}/index.yaml", srv.port);
                let addr = format!("127.0.0.1:{}", srv.port);
                let bin = helm_client().expect("go");
                let s = pod::in_chroot(tree.path(), &env, &bin, &[story.ca_file.unwrap(), &url, &addr]);
                (s == "ok", s)
            }
            "go" => {
                let s = pod::real_go(tree.path(), &env, &chain, NAME);
                (s == "ok", s)
            }
            "openssl" => {
                let (code, s) = pod::in_pod(
                    trixie,
                    tree.path(),
                    &env,
                    &[
                        "openssl",
                        "verify",
                        "-verify_hostname",
                        NAME,
                        "-untrusted",
                        "/int.pem",
                        "/leaf.pem",
                    ],
                );
                (code == 0, s)
            }
            "python" => {
                let srv = rt::Server::start(&story.pki.leaf, &[&story.pki.int]);
                let port = srv.port.to_string();
                let (code, s) =
                    pod::in_pod(trixie, tree.path(), &env, &["python3", "/client.py", &port, NAME]);
                assert_eq!(code, 0, "python3 in the pod: {s}");
                (s.trim() == "OK", s)
            }
            other => panic!("no real runtime for {other}"),
        };
        out.insert(r.to_string(), (ok, said.trim().to_string()));
    }
    out
}

/// What a Helm repository's `caFile` does, as Helm 3's HTTP getter does it
/// (`internal/tlsutil`: the file is read — `can't read CA file` when it cannot be —, a new
/// pool gets its certificates — `failed to append certificates from pem block` when none
/// parse — and becomes `tls.Config.RootCAs`: the system pool is never consulted). The URL's
/// host is the name checked and sent as SNI; the TCP connection goes to ADDR.
const HELM_CLIENT: &str = r#"package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// helmget CAFILE URL ADDR: prints `ok` or the error Helm would wrap.
func main() {
	caFile, href, addr := os.Args[1], os.Args[2], os.Args[3]
	pem, err := os.ReadFile(caFile)
	if err != nil {
		fmt.Printf("can't read CA file: %q: %v\n", caFile, err)
		return
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fmt.Println("failed to append certificates from pem block")
		return
	}
	u, err := url.Parse(href)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: u.Hostname()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(href)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("ok")
}
"#;

static HELM_BIN: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();

/// The static Helm-like client (this machine's Go, CGO off).
fn helm_client() -> Option<std::path::PathBuf> {
    HELM_BIN.get_or_init(|| build_go("helmget", HELM_CLIENT)).clone()
}

/// Apply the RFC 6902 operations (add, replace) to a document.
fn json_patch(doc: &mut Value, ops: &[Value]) {
    for op in ops {
        let path = op["path"].as_str().unwrap();
        let (parent, last) = path.rsplit_once('/').unwrap();
        let target = doc.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent}"));
        let value = op["value"].clone();
        match (op["op"].as_str().unwrap(), target) {
            ("add", Value::Array(a)) if last == "-" => a.push(value),
            ("add", Value::Object(o)) => {
                o.insert(last.to_string(), value);
            }
            ("replace", Value::Array(a)) => a[last.parse::<usize>().unwrap()] = value,
            ("replace", Value::Object(o)) => {
                o.insert(last.to_string(), value);
            }
            (op, _) => panic!("unexpected operation {op} at {path}"),
        }
    }
}

/// The manifest with the proposed patch applied as printed: the JSON patch on the workload,
/// the new ConfigMaps appended.
fn patched_manifest(manifest: &str, patch: &Value) -> String {
    let workload = patch["workload"].as_str().unwrap();
    let (kind, name) = workload.split_once('/').unwrap();
    let mut out = String::new();
    let mut applied = false;
    for d in serde_norway::Deserializer::from_str(manifest) {
        let mut v: Value = serde::Deserialize::deserialize(d).unwrap();
        if v["kind"] == kind && v["metadata"]["name"] == name {
            json_patch(&mut v, patch["json_patch"].as_array().unwrap());
            applied = true;
        }
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(&v).unwrap());
    }
    assert!(applied, "{workload} not in the manifest");
    for o in patch["new_objects"].as_array().unwrap() {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(o).unwrap());
    }
    out
}

fn verdict_map(doc: &Value) -> BTreeMap<String, bool> {
    doc["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["runtime"].as_str().unwrap().to_string(),
                v["trusted"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn check(story: Story) {
    if !pod::image_tools() || pod::go_verifier().is_none() || !have("openssl") {
        return;
    }
    let Some(trixie) = pod::trixie_root() else { return };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // The image, built by umoci from the fixture tree, with the image's Env.
    let layout = pod::layout_from_tree(dir, story.tree.root(), &story.image_env, None);
    std::fs::rename(&layout, dir.join("image")).unwrap();
    let manifest_name = format!("{}.yaml", story.name);
    let manifest = dir.join(&manifest_name);
    std::fs::write(&manifest, &story.manifest).unwrap();
    std::fs::write(
        dir.join("chain.pem"),
        format!("{}{}", story.pki.leaf.pem(), story.pki.int.pem()),
    )
    .unwrap();

    // 1. Before: tlsdoctor and the real runtimes in the pod.
    let args = verify_args(&story, &manifest_name);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut json_args = argv.clone();
    json_args.push("--json");
    let (code, out, err) = tlsdoctor_in(dir, &json_args);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let ours = verdict_map(&doc);
    let real = real_verdicts(&story, dir, &manifest, &trixie);
    for r in story.runtimes {
        let want = story.trusted_before.contains(r);
        assert_eq!(
            real[*r].0, want,
            "{}: the real {r} says {:?}",
            story.name, real[*r].1
        );
        assert_eq!(
            ours[*r], real[*r].0,
            "{}: tlsdoctor's {r} vs the real one ({:?})",
            story.name, real[*r].1
        );
    }
    assert_eq!(code, 1, "{}: a runtime rejects", story.name);
    if let Some(f) = story.ca_file {
        // The file is not in the pod: Helm fails before any handshake, and tlsdoctor says so.
        assert!(real["go"].1.contains("can't read CA file"), "{}", real["go"].1);
        let go = doc["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["runtime"] == "go")
            .unwrap();
        assert_eq!(
            go["message"],
            format!("open {f}: no such file or directory"),
            "{go}"
        );
        let codes: Vec<&str> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["code"].as_str())
            .collect();
        assert!(codes.contains(&"ca-file-missing"), "{codes:?}");
    }

    // 2. The proposed patch, proven.
    let patch = &doc["patch"];
    assert!(patch.is_object(), "{}: no patch proposed: {out}", story.name);
    assert_eq!(patch["strategy"], story.strategy, "{}: {patch}", story.name);
    assert_eq!(patch["proven"], true, "{}: {patch}", story.name);
    for p in patch["proof"].as_array().unwrap() {
        assert_eq!(p["trusted_after"], true, "{}: {p}", story.name);
        assert_eq!(p["anchors_lost"], 0, "{}: {p}", story.name);
    }
    // The human report carries it too.
    let (_, human, _) = tlsdoctor_in(dir, &argv);
    assert!(human.contains("Proposed patch for "), "{human}");
    assert!(
        human.contains("proven: the pod built again with it trusts the chain"),
        "{human}"
    );

    // 2b. `connect` to a real `openssl s_server` presenting the same chain: the same
    //     verdicts, and the same proposed patch, in JSON and in the human report.
    let srv = rt::Server::start(&story.pki.leaf, &[&story.pki.int]);
    let port = srv.port.to_string();
    let c_args = connect_args(&story, &manifest_name, &port);
    let c_argv: Vec<&str> = c_args.iter().map(String::as_str).collect();
    let mut c_json = c_argv.clone();
    c_json.push("--json");
    let (c_code, c_out, c_err) = tlsdoctor_in(dir, &c_json);
    assert_eq!(c_code, 1, "{}: connect: {c_out}{c_err}", story.name);
    let c_doc: Value = serde_json::from_str(&c_out).unwrap_or_else(|e| panic!("{e}: {c_out}{c_err}"));
    assert_eq!(c_doc["handshake"]["completed"], true, "{c_out}");
    if story.ca_file.is_some() {
        // rustls' own answer was given the same file, read in the pod (absent here).
        assert_eq!(
            c_doc["server"]["rustls_verifier"]["roots"], "--ca-in-world",
            "{c_out}"
        );
    }
    assert_eq!(
        verdict_map(&c_doc),
        ours,
        "{}: connect's verdicts vs verify's",
        story.name
    );
    assert!(
        c_doc["patch"].is_object(),
        "{}: connect proposes no patch: {c_out}",
        story.name
    );
    assert_same_patch(story.name, patch, &c_doc["patch"]);
    let (_, c_human, _) = tlsdoctor_in(dir, &c_argv);
    let from = |h: &str| h[h.find("\nProposed patch for ").unwrap_or(h.len())..].to_string();
    assert!(c_human.contains("Proposed patch for "), "{c_human}");
    // Identical text from the heading on, but for the proof's wording (none is printed).
    assert_eq!(
        from(&c_human),
        from(&human),
        "{}: connect's patch text",
        story.name
    );

    // 3. The printed patch applied to the manifest: tlsdoctor and the real runtimes agree
    //    that the pod now trusts the chain.
    let patched_name = format!("{}-patched.yaml", story.name);
    let patched = dir.join(&patched_name);
    std::fs::write(&patched, patched_manifest(&story.manifest, patch)).unwrap();
    let after_args = verify_args(&story, &patched_name);
    let mut after_json: Vec<&str> = after_args.iter().map(String::as_str).collect();
    after_json.push("--json");
    let (code, out, err) = tlsdoctor_in(dir, &after_json);
    assert_eq!(code, 0, "{}: with the patch: {out}{err}", story.name);
    let after: Value = serde_json::from_str(&out).unwrap();
    assert!(after.get("patch").is_none(), "nothing left to patch");
    let real = real_verdicts(&story, dir, &patched, &trixie);
    for r in story.runtimes {
        assert!(
            real[*r].0,
            "{}: with the patch the real {r} says {:?}",
            story.name, real[*r].1
        );
        let proof = patch["proof"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["runtime"] == *r)
            .unwrap();
        assert_eq!(proof["after"], "ok");
    }

    // connect, with the patch: every runtime trusts the server, nothing left to propose.
    let c_after = connect_args(&story, &patched_name, &port);
    let mut c_after_json: Vec<&str> = c_after.iter().map(String::as_str).collect();
    c_after_json.push("--json");
    let (code, out, err) = tlsdoctor_in(dir, &c_after_json);
    assert_eq!(code, 0, "{}: connect with the patch: {out}{err}", story.name);
    let c_after_doc: Value = serde_json::from_str(&out).unwrap();
    assert!(c_after_doc.get("patch").is_none(), "nothing left to patch: {out}");
    drop(srv);

    // For writing the doc: the report as a user sees it.
    eprintln!("==== {}\n$ tlsdoctor {}\n{human}", story.name, args.join(" "));
    eprintln!(
        "==== {} connect\n$ tlsdoctor {}\n{c_human}",
        story.name,
        c_args.join(" ")
    );

    // 4. The doc shows exactly these commands.
    let doc_connect = [
        connect_args(&story, &manifest_name, DOC_PORT),
        connect_args(&story, &patched_name, DOC_PORT),
    ];
    for a in [&args, &after_args].into_iter().chain(&doc_connect) {
        let line = format!("tlsdoctor {}", a.join(" "));
        assert!(
            DOC.contains(&line),
            "docs/KUBERNETES-STORIES.md does not show `{line}`"
        );
    }
}

/// A root, an intermediate and a `good.test` leaf, every certificate below the root with
/// an authority key identifier (Python 3.13's VERIFY_X509_STRICT wants one; these stories
/// are about where the CA is, not about RFC 5280 conformance).
fn story_pki(prefix: &str) -> rt::Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    use time::macros::datetime;
    let params = |cn: &str, sans: &[&str], ca: bool| {
        let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(DnType::OrganizationName, "tlsdoctor stories");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.not_before = datetime!(2020-01-01 0:00 UTC);
        p.not_after = datetime!(2099-01-01 0:00 UTC);
        if ca {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        } else {
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        }
        p.use_authority_key_identifier_extension = true;
        p
    };
    let mut base = rt::pki_named(prefix);
    let rk = KeyPair::generate().unwrap();
    let mut rp = params(&format!("{prefix} Root CA"), &[], true);
    rp.use_authority_key_identifier_extension = false;
    let root = rt::Cert {
        cert: rp.self_signed(&rk).unwrap(),
        key: rk,
    };
    let ik = KeyPair::generate().unwrap();
    let int = rt::Cert {
        cert: params(&format!("{prefix} Intermediate CA"), &[], true)
            .signed_by(&ik, &root.cert, &root.key)
            .unwrap(),
        key: ik,
    };
    let lk = KeyPair::generate().unwrap();
    let leaf = rt::Cert {
        cert: params(NAME, &[NAME], false)
            .signed_by(&lk, &int.cert, &int.key)
            .unwrap(),
        key: lk,
    };
    base.root = root;
    base.int = int;
    base.leaf = leaf;
    base
}

fn public() -> Ca {
    ca("Stories Public Root")
}

/// External-DNS: the image sets SSL_CERT_FILE to its own bundle; the team mounts the
/// corporate bundle (public roots + their root) at /etc/ssl/cert.pem, the file Alpine's
/// OpenSSL reads by default — and it loses: the variable names the other file. The
/// smallest fix is one variable.
#[test]
fn external_dns_the_images_ssl_cert_file_wins_over_a_mounted_bundle() {
    let pki = story_pki("External DNS Corp");
    let p = public();
    let tree = Fs::new();
    alpine(&tree, &[&p]);
    std::fs::remove_file(tree.host("/etc/ssl/cert.pem")).unwrap();
    let full = format!("{}{}", p.pem(), pki.root.pem());
    let manifest = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: external-dns\nspec:\n  template:\n    spec:\n      containers:\n      - name: external-dns\n        image: registry.k8s.io/external-dns/external-dns\n        args: [\"--provider=pdns\", \"--pdns-server=https://{NAME}\"]\n        volumeMounts:\n        - name: corp-bundle\n          mountPath: /etc/ssl/cert.pem\n          subPath: ca-bundle.pem\n          readOnly: true\n      volumes:\n      - name: corp-bundle\n        configMap:\n          name: corp-bundle\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: corp-bundle\ndata:\n  ca-bundle.pem: |\n{}",
        indent(&full, 4)
    );
    check(Story {
        name: "external-dns",
        tree,
        image_env: vec![("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")],
        manifest,
        runtimes: &["go", "openssl"],
        trusted_before: &[],
        strategy: "env",
        pki,
        ca_file: None,
    });
}

/// DevLake: the corporate root, from a Secret, is mounted into
/// /usr/local/share/ca-certificates — a staging area; nothing in the pod runs
/// update-ca-certificates, so Go (the server), OpenSSL and Python (the plugins) all miss it.
/// Pointing SSL_CERT_FILE at it would drop every public root; the patch mounts the same
/// Secret key under its subject-hash name in /etc/ssl/certs.
#[test]
fn devlake_a_staged_secret_nobody_installs() {
    let pki = story_pki("DevLake Corp");
    let tree = Fs::new();
    debian(&tree, &[&public()]);
    let manifest = format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: devlake\nspec:\n  template:\n    spec:\n      containers:\n      - name: lake\n        image: apache/devlake\n        volumeMounts:\n        - name: corp-ca\n          mountPath: /usr/local/share/ca-certificates\n          readOnly: true\n      volumes:\n      - name: corp-ca\n        secret:\n          secretName: corp-ca\n          items:\n          - key: ca.crt\n            path: corp-root.crt\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: corp-ca\ndata:\n  ca.crt: {}\n",
        b64(&pki.root.pem())
    );
    check(Story {
        name: "devlake",
        tree,
        image_env: vec![],
        manifest,
        runtimes: &["go", "openssl", "python"],
        trusted_before: &[],
        strategy: "mount",
        pki,
        ca_file: None,
    });
}

/// Flux: the Zscaler root, from a Secret, is mounted with subPath as
/// /etc/ssl/certs/zscaler.pem. Go reads every file of that directory and trusts it;
/// OpenSSL (and Python on it) look certificates up by subject-hash name, and no
/// `HASH.0` exists for it. The patch mounts the same key under that name.
#[test]
fn flux_a_subpath_root_go_sees_and_openssl_does_not() {
    let pki = story_pki("Zscaler");
    let tree = Fs::new();
    debian(&tree, &[&public()]);
    let manifest = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: source-controller\nspec:\n  template:\n    spec:\n      containers:\n      - name: manager\n        image: ghcr.io/fluxcd/source-controller\n        volumeMounts:\n        - name: zscaler\n          mountPath: /etc/ssl/certs/zscaler.pem\n          subPath: zscaler.pem\n          readOnly: true\n      volumes:\n      - name: zscaler\n        secret:\n          secretName: zscaler-root\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: zscaler-root\ndata:\n  zscaler.pem: {}\n",
        b64(&pki.root.pem())
    );
    check(Story {
        name: "flux",
        tree,
        image_env: vec![],
        manifest,
        runtimes: &["go", "openssl", "python"],
        trusted_before: &["go"],
        strategy: "mount",
        pki,
        ca_file: None,
    });
}

/// k0s: a hosted control plane (k0s controllers in a StatefulSet, as k0smotron runs them)
/// pulls its Helm extensions from the team's registry. The registry's CA comes from a
/// cert-manager Secret, mounted as the kcm hosted templates do
/// (`/usr/local/share/ca-certificates/registry/ca.crt`); the Helm repository's `caFile`
/// in the k0s config was copied from the worker templates, which write the same CA to
/// `/usr/local/share/ca-certificates/kcm-registry.pem` — a file the controller pod does not
/// have. Helm builds its root pool from that file alone, so it fails before any handshake.
/// The patch mounts the Secret's `ca.crt` at the path the caFile names.
#[test]
fn k0s_a_helm_repository_ca_file_the_pod_does_not_have() {
    let pki = story_pki("Registry Corp");
    let tree = Fs::new();
    alpine(&tree, &[&public()]);
    let k0s_yaml = format!(
        "apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nmetadata:\n  name: k0s\nspec:\n  extensions:\n    helm:\n      repositories:\n      - name: global-registry\n        url: https://{NAME}/charts\n        caFile: /usr/local/share/ca-certificates/kcm-registry.pem\n      charts:\n      - name: aws-cloud-controller-manager\n        chartname: global-registry/aws-cloud-controller-manager\n        version: 0.0.11\n        namespace: kube-system\n"
    );
    let manifest = format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: kmc-hosted\nspec:\n  template:\n    spec:\n      containers:\n      - name: controller\n        image: quay.io/k0sproject/k0s\n        args: [\"k0s\", \"controller\", \"--config=/etc/k0s/k0s.yaml\"]\n        volumeMounts:\n        - name: k0s-config\n          mountPath: /etc/k0s\n          readOnly: true\n        - name: registry-ca\n          mountPath: /usr/local/share/ca-certificates/registry\n          readOnly: true\n      volumes:\n      - name: k0s-config\n        configMap:\n          name: kmc-hosted-config\n      - name: registry-ca\n        secret:\n          secretName: registry-cert\n          defaultMode: 420\n          items:\n          - key: ca.crt\n            path: ca.crt\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kmc-hosted-config\ndata:\n  k0s.yaml: |\n{}---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: registry-cert\ntype: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n  ca.crt: {}\n",
        indent(&k0s_yaml, 4),
        b64(&format!("{}{}", pki.leaf.pem(), pki.int.pem())),
        b64(&pki.leaf.key_pem()),
        b64(&pki.root.pem())
    );
    check(Story {
        name: "k0s",
        tree,
        image_env: vec![],
        manifest,
        runtimes: &["go"],
        trusted_before: &[],
        strategy: "mount",
        pki,
        ca_file: Some("/usr/local/share/ca-certificates/kcm-registry.pem"),
    });
}
