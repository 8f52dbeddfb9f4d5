//! A proposed patch (`--manifest`): when a runtime in the pod would reject the chain for want
//! of its CA, the smallest change to the manifest that makes every such runtime trust it —
//! and the proof: the pod is built again from the patched manifests (internally, exactly as
//! `--manifest` builds it) and the chain evaluated again; the result is reported beside the
//! patch.
//!
//! The CA is the root the server sent, else the missing issuer as found in the World or in
//! the manifests' ConfigMaps and Secrets. The candidates, smallest first; the first one
//! that proves out is proposed:
//!
//! 1. **env**: point the runtimes at a file already in the pod that holds the CA
//!    (`SSL_CERT_FILE`, and `NODE_EXTRA_CA_CERTS` / `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`
//!    for the runtimes that read their own variable) — only when no runtime loses an
//!    anchor by it (a file holding the CA alone would replace the system bundle);
//! 2. **mount**: mount the CA (the Secret or ConfigMap volume that already holds it, or a
//!    new ConfigMap) with `subPath` into the certificate directory under the name OpenSSL
//!    looks it up by (`HASH.0`) — Go reads every file of that directory, OpenSSL finds it
//!    by its subject hash;
//! 3. **bundle**: a ConfigMap holding the bundle the runtimes read plus the CA, mounted with
//!    `subPath` over that bundle.
//!
//! A program that trusts only its own CA file (`--ca-in-world PATH`: a Helm repository's
//! `caFile`) is reached by none of those: its candidates are the CA mounted at PATH, then
//! PATH's certificates plus the CA as a ConfigMap mounted over it (`ca_file_candidates`).
//!
//! "Proven" means: every runtime that rejected for want of the CA now trusts the chain, no
//! runtime that trusted it stops, and no runtime loses any anchor it had.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Ctx;
use crate::diagnose::evidence::{self, IssuerEvidence};
use crate::diagnose::{evaluate_with, Input};
use crate::report::json::VerdictDoc;
use crate::trust::{Runtime, TrustStore};
use crate::world::manifest::{self, Manifests, Selected};
use crate::world::World;
use crate::x509::CertInfo;

/// What `--manifest` was built from, kept to build the pod again with a patch applied.
#[derive(Debug, Clone)]
pub struct PodSource {
    /// The container's filesystem and image environment, before the manifest.
    pub base: World,
    pub manifests: Arc<Manifests>,
    pub container: Option<String>,
    /// `--env` overrides, applied after the manifest.
    pub env: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchDoc {
    /// `Deployment/name`.
    pub workload: String,
    pub container: String,
    pub ca: CaDoc,
    /// `env`, `mount` or `bundle`.
    pub strategy: String,
    /// What the patch does, in a sentence.
    pub summary: String,
    /// The change as a strategic-merge patch of the workload (`kubectl patch --patch-file`),
    /// followed by any new ConfigMap (`kubectl apply -f`), as YAML.
    pub strategic_merge: String,
    /// The same change as RFC 6902 operations on the workload document.
    pub json_patch: Vec<Value>,
    /// ConfigMaps the patch creates.
    pub new_objects: Vec<Value>,
    /// The patch was applied to the manifests, the pod built again and the chain evaluated
    /// again: every runtime that wanted the CA trusts the chain, none lost an anchor.
    pub proven: bool,
    /// Per runtime: the verdict before and with the patch.
    pub proof: Vec<ProofDoc>,
    /// Runtimes a manifest change cannot fix here, and why.
    pub not_covered: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaDoc {
    pub subject: String,
    pub sha256: String,
    /// Where the CA was taken from: the chain, a ConfigMap/Secret key, a file of the World.
    pub from: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofDoc {
    pub runtime: String,
    /// The cause before (`unknown-authority`, `ok`, …).
    pub before: String,
    /// The cause with the patch applied.
    pub after: String,
    pub trusted_after: bool,
    /// What the runtime would say with the patch applied.
    pub message_after: String,
    pub anchors_before: usize,
    pub anchors_after: usize,
    /// Anchors the runtime had before and not with the patch.
    pub anchors_lost: usize,
}

/// One candidate change to the container and pod spec.
#[derive(Debug, Clone, Default)]
struct Change {
    strategy: &'static str,
    summary: String,
    env: Vec<(String, String)>,
    volume: Option<Value>,
    mounts: Vec<Value>,
    objects: Vec<Value>,
}

/// A runtime whose store no manifest can change (with why), or None.
fn unfixable(r: Runtime) -> Option<&'static str> {
    match r {
        Runtime::WebpkiRoots => Some("its roots are compiled into the program: no file or variable adds one"),
        Runtime::Java => Some(
            "Java reads keystores: import the CA with keytool into a truststore, mount it and point \
             -Djavax.net.ssl.trustStore at it (JAVA_TOOL_OPTIONS)",
        ),
        _ => None,
    }
}

/// The variable a runtime reads for its own CA file (NODE_EXTRA_CA_CERTS …), if any.
fn own_var(r: Runtime) -> Option<&'static str> {
    r.unit()
        .own_ca_variable
        .and_then(|s| s.split_whitespace().next())
        .filter(|w| w.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
}

fn wants_ca(v: &VerdictDoc) -> bool {
    !v.trusted && v.causes.iter().any(|c| c == "unknown-authority")
}

/// Certificates in the bytes of a ConfigMap/Secret key or file.
fn certs_in(data: &[u8]) -> Vec<Arc<CertInfo>> {
    super::inspect::decode_bundle(data)
        .into_iter()
        .filter_map(|b| b.result.ok())
        .collect()
}

/// The CA to trust, and where it was taken from.
fn the_ca(input: &Input, ev: Option<&IssuerEvidence>, m: &Manifests) -> Option<(Arc<CertInfo>, String)> {
    let top = evidence::presented_top(&input.chain)?;
    if top.self_signed {
        return Some((top, "the chain (the server sends it)".into()));
    }
    for (kind, name, key, data) in m.object_keys() {
        if let Some(c) = certs_in(&data).into_iter().find(|c| evidence::issues(c, &top)) {
            return Some((c, format!("{kind} {name} key {key}")));
        }
    }
    let ev = ev?;
    let c = ev.cert.clone()?;
    let from = ev
        .sightings
        .first()
        .map(|s| format!("{} in the image", s.path))
        .unwrap_or_else(|| "its AIA caIssuers URL".into());
    Some((c, from))
}

/// The volume of the pod that already carries `ca` (a Secret or ConfigMap of the
/// manifests), and the path of the CA inside it (the `subPath`).
fn volume_with(m: &Manifests, sel: &Selected, ca: &CertInfo) -> Option<(String, String)> {
    let holders: Vec<(String, String, String)> = m
        .object_keys()
        .into_iter()
        .filter(|(_, _, _, d)| certs_in(d).iter().any(|c| c.sha256 == ca.sha256))
        .map(|(k, n, key, _)| (k, n, key))
        .collect();
    let spec = m.doc(sel.doc).pointer(sel.spec)?;
    let path_in = |src: &Value, key: &str| -> Option<String> {
        match src.get("items").and_then(Value::as_array) {
            Some(items) => items
                .iter()
                .find(|i| i.get("key").and_then(Value::as_str) == Some(key))
                .map(|i| i.get("path").and_then(Value::as_str).unwrap_or(key).to_string()),
            None => Some(key.to_string()),
        }
    };
    for v in spec.get("volumes").and_then(Value::as_array)? {
        let vname = v.get("name").and_then(Value::as_str)?.to_string();
        for (kind, name, key) in &holders {
            let direct = match kind.as_str() {
                "Secret" => v
                    .get("secret")
                    .filter(|s| s.get("secretName").and_then(Value::as_str) == Some(name)),
                _ => v
                    .get("configMap")
                    .filter(|s| s.get("name").and_then(Value::as_str) == Some(name)),
            };
            if let Some(src) = direct {
                if let Some(p) = path_in(src, key) {
                    return Some((vname, p));
                }
            }
            let field = if kind == "Secret" { "secret" } else { "configMap" };
            for s in v
                .pointer("/projected/sources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(src) = s
                    .get(field)
                    .filter(|x| x.get("name").and_then(Value::as_str) == Some(name))
                {
                    if let Some(p) = path_in(src, key) {
                        return Some((vname, p));
                    }
                }
            }
        }
    }
    None
}

/// A name no ConfigMap or Secret of the manifests, and no volume of the pod, uses yet.
fn fresh_name(m: &Manifests, sel: &Selected, base: &str) -> String {
    let mut taken: BTreeSet<String> = m.object_keys().into_iter().map(|(_, n, _, _)| n).collect();
    if let Some(vs) = m
        .doc(sel.doc)
        .pointer(&format!("{}/volumes", sel.spec))
        .and_then(Value::as_array)
    {
        taken.extend(
            vs.iter()
                .filter_map(|v| v.get("name")?.as_str().map(str::to_string)),
        );
    }
    let mut n = base.to_string();
    let mut i = 2;
    while taken.contains(&n) {
        n = format!("{base}-{i}");
        i += 1;
    }
    n
}

/// Apply `ch` to a copy of the manifests; also the RFC 6902 operations it amounts to.
fn apply_change(m: &Manifests, sel: &Selected, ch: &Change) -> (Manifests, Vec<Value>) {
    let mut out = m.clone();
    let mut ops = Vec::new();
    let cptr = format!("{}/containers/{}", sel.spec, sel.container);
    let doc = out.doc_mut(sel.doc);
    // Entries of `list` at `ptr` keyed by `field`: replace the same key, append the others.
    let mut merge = |doc: &mut Value, ptr: &str, list: &str, field: &str, items: Vec<Value>| {
        if items.is_empty() {
            return;
        }
        let Some(parent) = doc.pointer_mut(ptr).and_then(Value::as_object_mut) else {
            return;
        };
        match parent.get_mut(list).and_then(Value::as_array_mut) {
            None => {
                ops.push(json!({"op": "add", "path": format!("{ptr}/{list}"), "value": items}));
                parent.insert(list.to_string(), Value::Array(items));
            }
            Some(arr) => {
                for it in items {
                    match arr.iter().position(|e| e.get(field) == it.get(field)) {
                        Some(j) => {
                            ops.push(
                                json!({"op": "replace", "path": format!("{ptr}/{list}/{j}"), "value": it}),
                            );
                            arr[j] = it;
                        }
                        None => {
                            ops.push(json!({"op": "add", "path": format!("{ptr}/{list}/-"), "value": it}));
                            arr.push(it);
                        }
                    }
                }
            }
        }
    };
    let env: Vec<Value> = ch
        .env
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    merge(doc, &cptr, "env", "name", env);
    merge(doc, &cptr, "volumeMounts", "mountPath", ch.mounts.clone());
    merge(
        doc,
        sel.spec,
        "volumes",
        "name",
        ch.volume.iter().cloned().collect(),
    );
    for o in &ch.objects {
        out.push("proposed patch", o.clone());
    }
    (out, ops)
}

/// The strategic-merge form: the container (by name) with its new env and mounts, the new
/// volume, nested at the pod spec's place in the workload; then the new objects.
fn strategic_merge(m: &Manifests, sel: &Selected, ch: &Change) -> String {
    let mut c = serde_json::Map::new();
    c.insert("name".into(), json!(sel.name));
    if !ch.env.is_empty() {
        c.insert(
            "env".into(),
            Value::Array(
                ch.env
                    .iter()
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect(),
            ),
        );
    }
    if !ch.mounts.is_empty() {
        c.insert("volumeMounts".into(), Value::Array(ch.mounts.clone()));
    }
    let mut spec = serde_json::Map::new();
    spec.insert("containers".into(), json!([Value::Object(c)]));
    if let Some(v) = &ch.volume {
        spec.insert("volumes".into(), json!([v]));
    }
    let mut node = Value::Object(spec);
    for seg in sel.spec.trim_start_matches('/').split('/').rev() {
        node = json!({ seg: node });
    }
    let kind = m
        .doc(sel.doc)
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let name = sel.workload.split_once('/').map(|(_, n)| n).unwrap_or("");
    let mut s = format!("# kubectl patch {kind} {name} --patch-file patch.yaml\n");
    s.push_str(&serde_norway::to_string(&node).unwrap_or_default());
    for o in &ch.objects {
        s.push_str("---\n# kubectl apply -f (create it first)\n");
        s.push_str(&serde_norway::to_string(o).unwrap_or_default());
    }
    s
}

/// The stores and verdicts of the pod built from `m`.
fn evaluate(
    ctx: &Ctx,
    opts: &crate::trust::TrustOptions,
    pod: &PodSource,
    m: &Manifests,
    runtimes: &[Runtime],
    ca_files: &[PathBuf],
    input: &Input,
) -> anyhow::Result<(Vec<TrustStore>, Vec<VerdictDoc>)> {
    let mut w = manifest::apply_loaded(pod.base.clone(), m, pod.container.as_deref())?;
    w = super::apply_env(w, &pod.env)?;
    if let Some(e) = ctx.world.exe() {
        w = w.with_exe(e.to_path_buf());
    }
    let stores = if ca_files.is_empty() {
        crate::trust::resolve_many(runtimes, &w, opts)
    } else {
        // The program's own CA file, read in the pod built again.
        let mut v = crate::trust::from_ca_files_in_world(runtimes, &w, ca_files);
        crate::trust::attach_profiles(&mut v, &w, opts);
        v
    };
    let d = evaluate_with(input, &stores, 0, None);
    Ok((stores, d.verdicts))
}

fn sha_set(s: &TrustStore) -> BTreeSet<&str> {
    s.anchors.iter().map(|a| a.cert.sha256.as_str()).collect()
}

/// The candidates, smallest first.
fn candidates(
    ctx: &Ctx,
    m: &Manifests,
    sel: &Selected,
    ca: &CertInfo,
    targets: &[Runtime],
    ev: Option<&IssuerEvidence>,
) -> Vec<Change> {
    let w = &ctx.world;
    let mut out = Vec::new();
    let own: Vec<(Runtime, &str)> = targets
        .iter()
        .filter_map(|r| own_var(*r).map(|v| (*r, v)))
        .collect();
    let needs_ssl_cert_file = targets.iter().any(|r| own_var(*r).is_none());
    let env_for = |path: &str, with_requests: bool| -> Vec<(String, String)> {
        let mut env = Vec::new();
        if needs_ssl_cert_file {
            env.push(("SSL_CERT_FILE".to_string(), path.to_string()));
        }
        for (r, v) in &own {
            if *r == Runtime::PythonRequests && !with_requests {
                continue;
            }
            env.push((v.to_string(), path.to_string()));
        }
        env
    };

    // The bundle the runtimes read now (what SSL_CERT_FILE names, else the system one).
    let bundle = w
        .var_nonempty("SSL_CERT_FILE")
        .map(PathBuf::from)
        .or_else(|| ev.map(|e| PathBuf::from(&e.system_bundle)))
        .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
    let bundle = w.canonical(&bundle).unwrap_or(bundle);
    let current: BTreeSet<String> = w
        .read(&bundle)
        .map(|b| certs_in(&b).iter().map(|c| c.sha256.clone()).collect())
        .unwrap_or_default();

    // 1. Point the runtimes at a file already in the pod that holds the CA — and every
    //    certificate of the bundle it would replace (a file with the CA alone is no
    //    replacement for the public roots, even where a directory still holds them).
    let mut seen = BTreeSet::new();
    for s in ev.map(|e| e.sightings.as_slice()).unwrap_or_default() {
        let holds_all = w.read(Path::new(&s.path)).is_ok_and(|b| {
            let have: BTreeSet<String> = certs_in(&b).iter().map(|c| c.sha256.clone()).collect();
            have.contains(&ca.sha256) && current.is_subset(&have)
        });
        if holds_all && seen.insert(s.path.clone()) && seen.len() <= 6 {
            out.push(Change {
                strategy: "env",
                summary: format!(
                    "point the runtimes at {}, already in the pod and holding the CA",
                    s.path
                ),
                env: env_for(&s.path, true),
                ..Default::default()
            });
        }
    }

    // 2. Mount the CA under its subject-hash name in the certificate directory.
    let hash = crate::trust::openssl::subject_hash(&ca.subject_der);
    let dir = w
        .var_nonempty("SSL_CERT_DIR")
        .and_then(|d| d.split(':').find(|p| !p.is_empty()).map(PathBuf::from))
        .or_else(|| ev.and_then(|e| e.cert_dir.clone()).map(PathBuf::from))
        .filter(|d| w.metadata(d).is_ok_and(|m| m.is_dir()))
        .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs"));
    let dir = w.canonical(&dir).unwrap_or(dir);
    let (volume, vol_name, sub, objects, from) = ca_source(m, sel, ca);
    if let Some(h) = hash {
        let n = (0..10)
            .find(|n| !w.exists(&dir.join(format!("{h:08x}.{n}"))))
            .unwrap_or(0);
        let at = dir.join(format!("{h:08x}.{n}"));
        let at_s = at.to_string_lossy().into_owned();
        let mut env = Vec::new();
        for (r, v) in &own {
            let val = if *r == Runtime::PythonRequests {
                dir.to_string_lossy().into_owned()
            } else {
                at_s.clone()
            };
            env.push((v.to_string(), val));
        }
        out.push(Change {
            strategy: "mount",
            summary: format!(
                "mount the CA ({from}) at {at_s}: the name OpenSSL looks it up by in {}, a directory Go \
                 reads whole",
                dir.display()
            ),
            env,
            volume: volume.clone(),
            mounts: vec![json!({"name": vol_name, "mountPath": at_s, "subPath": sub, "readOnly": true})],
            objects: objects.clone(),
        });
    }

    // 3. The bundle the runtimes read, plus the CA, mounted over it.
    let mut text = w
        .read(&bundle)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&ca.pem());
    let key = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ca-certificates.crt".into());
    let name = fresh_name(m, sel, "tlsdoctor-ca-bundle");
    let bpath = bundle.to_string_lossy().into_owned();
    out.push(Change {
        strategy: "bundle",
        summary: format!(
            "mount a ConfigMap {name} holding {bpath} plus the CA over {bpath}, the bundle the runtimes read"
        ),
        env: own.iter().map(|(_, v)| (v.to_string(), bpath.clone())).collect(),
        volume: Some(json!({"name": name, "configMap": {"name": name}})),
        mounts: vec![json!({"name": name, "mountPath": bpath, "subPath": key, "readOnly": true})],
        objects: vec![json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {key: text},
        })],
    });
    out
}

/// The candidates when the program trusts only its own CA file(s) (`--ca-in-world`: a Helm
/// repository's `caFile`): no variable, directory or system bundle reaches such a pool, only
/// the file itself does. For each file, smallest first: the CA mounted at that path (where
/// the file is missing, or held nothing the program needs), then the file's certificates
/// plus the CA as a new ConfigMap mounted over it.
fn ca_file_candidates(
    ctx: &Ctx,
    m: &Manifests,
    sel: &Selected,
    ca: &CertInfo,
    ca_files: &[PathBuf],
) -> Vec<Change> {
    let w = &ctx.world;
    let mut out = Vec::new();
    let (volume, vol_name, sub, objects, from) = ca_source(m, sel, ca);
    for f in ca_files {
        let at = f.to_string_lossy().into_owned();
        let exists = w.exists(f);
        out.push(Change {
            strategy: "mount",
            summary: format!(
                "mount the CA ({from}) at {at}, the CA file the program reads{}",
                if exists {
                    " (in place of the file there)"
                } else {
                    ", which the pod does not have"
                }
            ),
            volume: volume.clone(),
            mounts: vec![json!({"name": vol_name, "mountPath": at, "subPath": sub, "readOnly": true})],
            objects: objects.clone(),
            ..Default::default()
        });
        let Ok(bytes) = w.read(f) else { continue };
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&ca.pem());
        let key = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "ca.crt".into());
        let name = fresh_name(m, sel, "tlsdoctor-ca-bundle");
        out.push(Change {
            strategy: "bundle",
            summary: format!(
                "mount a ConfigMap {name} holding {at} plus the CA over {at}, the CA file the program reads"
            ),
            volume: Some(json!({"name": name, "configMap": {"name": name}})),
            mounts: vec![json!({"name": name, "mountPath": at, "subPath": key, "readOnly": true})],
            objects: vec![json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name},
                "data": {key: text},
            })],
            ..Default::default()
        });
    }
    out
}

/// Where a mount of the CA comes from: the Secret or ConfigMap volume of the pod that
/// already carries it (no new volume), else a new ConfigMap `tlsdoctor-ca` holding it.
/// Returns (new volume, volume name, subPath, new objects, a phrase for the summary).
fn ca_source(
    m: &Manifests,
    sel: &Selected,
    ca: &CertInfo,
) -> (Option<Value>, String, String, Vec<Value>, String) {
    match volume_with(m, sel, ca) {
        Some((v, p)) => (None, v.clone(), p, vec![], format!("volume {v}")),
        None => {
            let name = fresh_name(m, sel, "tlsdoctor-ca");
            (
                Some(json!({"name": name, "configMap": {"name": name}})),
                name.clone(),
                "ca.crt".to_string(),
                vec![json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name},
                    "data": {"ca.crt": ca.pem()},
                })],
                format!("a new ConfigMap {name}"),
            )
        }
    }
}

/// Propose and prove a patch, when the World is a pod and some runtime wants the CA.
pub fn propose(
    ctx: &Ctx,
    opts: &crate::trust::TrustOptions,
    input: &Input,
    stores: &[TrustStore],
    verdicts: &[VerdictDoc],
    ev: Option<&IssuerEvidence>,
    ca_files: &[PathBuf],
) -> Option<PatchDoc> {
    let pod = ctx.pod.as_ref()?;
    let wanting: Vec<&VerdictDoc> = verdicts.iter().filter(|v| wants_ca(v)).collect();
    if wanting.is_empty() {
        return None;
    }
    let not_covered: Vec<String> = wanting
        .iter()
        .filter_map(|v| {
            let r = Runtime::from_id(&v.runtime)?;
            unfixable(r).map(|why| format!("{}: {why}", v.runtime))
        })
        .collect();
    let targets: Vec<Runtime> = wanting
        .iter()
        .filter_map(|v| Runtime::from_id(&v.runtime))
        .filter(|r| unfixable(*r).is_none())
        .collect();
    if targets.is_empty() {
        return None;
    }
    let m = &pod.manifests;
    let sel = m.select(pod.container.as_deref()).ok()?;
    let (ca, from) = the_ca(input, ev, m)?;
    let runtimes: Vec<Runtime> = stores.iter().map(|s| s.runtime).collect();
    let mut best: Option<(usize, PatchDoc)> = None;
    let changes = if ca_files.is_empty() {
        candidates(ctx, m, &sel, &ca, &targets, ev)
    } else {
        ca_file_candidates(ctx, m, &sel, &ca, ca_files)
    };
    for ch in changes {
        let (patched, ops) = apply_change(m, &sel, &ch);
        let Ok((after_stores, after)) = evaluate(ctx, opts, pod, &patched, &runtimes, ca_files, input) else {
            continue;
        };
        let mut proof = Vec::new();
        let mut fixed = 0;
        let mut ok = true;
        for (i, before) in verdicts.iter().enumerate() {
            let (Some(a), Some(bs), Some(as_)) = (after.get(i), stores.get(i), after_stores.get(i)) else {
                ok = false;
                continue;
            };
            let lost = sha_set(bs).difference(&sha_set(as_)).count();
            let target = targets.iter().any(|r| r.code() == before.runtime);
            if target && a.trusted {
                fixed += 1;
            }
            if ((target || before.trusted) && !a.trusted) || lost > 0 {
                ok = false;
            }
            proof.push(ProofDoc {
                runtime: before.runtime.clone(),
                before: before.cause.clone(),
                after: a.cause.clone(),
                trusted_after: a.trusted,
                message_after: a.message.clone(),
                anchors_before: bs.anchors.len(),
                anchors_after: as_.anchors.len(),
                anchors_lost: lost,
            });
        }
        let doc = PatchDoc {
            workload: sel.workload.clone(),
            container: sel.name.clone(),
            ca: CaDoc {
                subject: ca.subject.clone(),
                sha256: ca.sha256.clone(),
                from: from.clone(),
            },
            strategy: ch.strategy.into(),
            summary: ch.summary.clone(),
            strategic_merge: strategic_merge(m, &sel, &ch),
            json_patch: ops,
            new_objects: ch.objects.clone(),
            proven: ok,
            proof,
            not_covered: not_covered.clone(),
        };
        if ok {
            return Some(doc);
        }
        // An env candidate that loses anchors is no fallback worth showing.
        if ch.strategy != "env" && best.as_ref().is_none_or(|(f, _)| fixed > *f) {
            best = Some((fixed, doc));
        }
    }
    best.map(|(_, d)| d)
}

/// The human rendering: the patch, how to apply it, and the proof.
pub fn render_human(p: &PatchDoc) -> String {
    use crate::report::sanitize::sanitize;
    let mut s = String::new();
    s.push_str(&format!(
        "\nProposed patch for {} container {}\n  ({})\n",
        sanitize(&p.workload),
        sanitize(&p.container),
        if p.proven {
            "proven: the pod built again with it trusts the chain"
        } else {
            "NOT proven: see below"
        }
    ));
    let text = format!(
        "CA {} (from {}). Patch: {}.",
        sanitize(&p.ca.subject),
        sanitize(&p.ca.from),
        sanitize(&p.summary)
    );
    s.push_str(&wrap(&text, "  ", 80));
    s.push('\n');
    // A bundle ConfigMap is long: abbreviate its data here (--json has it whole).
    let mut yaml = p.strategic_merge.clone();
    for o in &p.new_objects {
        if let Some(data) = o.get("data").and_then(Value::as_object) {
            for v in data.values().filter_map(Value::as_str) {
                if v.len() > 4096 {
                    let n = v.matches("-----BEGIN CERTIFICATE-----").count();
                    let short = format!("<{n} certificates: the bundle plus the CA; --json has it whole>");
                    if let Ok(full) = serde_norway::to_string(&json!(v)) {
                        yaml = yaml.replace(full.trim_end(), &short);
                    }
                }
            }
        }
    }
    for l in yaml.lines() {
        s.push_str(&format!("    {}\n", sanitize(l)));
    }
    s.push_str("  as a JSON patch (kubectl patch --type json -p '…'):\n");
    for op in &p.json_patch {
        let mut t = op.to_string();
        if t.len() > 200 {
            t.truncate(200);
            t.push('…');
        }
        s.push_str(&format!("    {}\n", sanitize(&t)));
    }
    s.push_str("  with the patch applied:\n");
    let w = p.proof.iter().map(|r| r.runtime.len()).max().unwrap_or(0);
    for r in &p.proof {
        s.push_str(&format!(
            "    {} {:w$}  {} → {}{}\n",
            if r.trusted_after { "✔" } else { "✘" },
            r.runtime,
            r.before,
            r.after,
            if r.anchors_lost > 0 {
                format!(" ({} anchors lost)", r.anchors_lost)
            } else {
                String::new()
            },
        ));
    }
    for n in &p.not_covered {
        s.push_str(&format!("  not covered: {}\n", sanitize(n)));
    }
    s
}

/// Greedy word wrap: every line starts with `indent` and is at most `width` columns.
fn wrap(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    for w in text.split_whitespace() {
        if line.len() > indent.len() && line.chars().count() + 1 + w.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = format!("{indent}  ");
        }
        if line.len() > indent.len() && !line.ends_with(' ') {
            line.push(' ');
        }
        line.push_str(w);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}
