//! A Kubernetes pod before it is deployed (`--manifest FILE… [--container NAME]`): the
//! container's environment and volumes applied over its image's World as the kubelet
//! would. Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job and CronJob documents
//! (and `List`s of them), with the ConfigMaps and Secrets they reference, from any number
//! of multi-document YAML files (`helm template` and kustomize output are just that).
//!
//! - environment: the image's `Env`, then `envFrom` (ConfigMap/Secret, with `prefix`), then
//!   `env` (`value` with `$(VAR)` expansion, `valueFrom` ConfigMap/Secret keys), as the
//!   kubelet orders them;
//! - volumes: Secret, ConfigMap, projected and emptyDir, laid out as the kubelet's atomic
//!   writer does (`..data` → a timestamped directory, each key a link through `..data`),
//!   `items` (key → path, mode), `defaultMode`, `subPath` (the file itself, no links), and
//!   the service-account projection at /var/run/secrets/kubernetes.io/serviceaccount
//!   (`ca.crt` from the ConfigMap `kube-root-ca.crt`) unless automounting is off;
//! - what the tool cannot know is said: an init container writing into a shared emptyDir,
//!   a Secret or ConfigMap not among the files, a token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::tree::{Content, Node, NodeKind, Tree};
use super::{World, WorldKind};

/// Manifest files are small; anything bigger is not one.
const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;
/// The kubelet's atomic writer puts the data in a timestamped directory.
const DATA_DIR: &str = "..2026_01_01_00_00_00.000000000";
const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Every document of the files.
#[derive(Debug, Clone)]
pub struct Manifests {
    docs: Vec<(String, Value)>,
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

impl Manifests {
    pub fn load(files: &[PathBuf]) -> anyhow::Result<Manifests> {
        let mut docs = Vec::new();
        for f in files {
            let data = super::read_host_file(f)
                .map_err(|e| anyhow!("--manifest {}: {}", f.display(), super::describe_io(&e)))?;
            if data.len() as u64 > MAX_MANIFEST_BYTES {
                bail!("--manifest {}: larger than 16 MiB", f.display());
            }
            let text =
                String::from_utf8(data).map_err(|_| anyhow!("--manifest {}: not UTF-8 text", f.display()))?;
            for (i, d) in serde_norway::Deserializer::from_str(&text).enumerate() {
                let v = Value::deserialize(d)
                    .map_err(|e| anyhow!("--manifest {}: document {}: not YAML: {e}", f.display(), i + 1))?;
                if v.is_null() {
                    continue;
                }
                let src = format!("{} (document {})", f.display(), i + 1);
                if s(&v, "kind") == Some("List") {
                    for item in arr(&v, "items") {
                        docs.push((src.clone(), item.clone()));
                    }
                } else {
                    docs.push((src, v));
                }
            }
        }
        Ok(Manifests { docs })
    }

    fn find(&self, kind: &str, name: &str) -> Option<&Value> {
        self.docs.iter().map(|(_, d)| d).find(|d| {
            s(d, "kind") == Some(kind) && d.get("metadata").and_then(|m| s(m, "name")) == Some(name)
        })
    }

    /// `key` of ConfigMap or Secret `name`: Ok(Some(bytes)), Ok(None) if the object is known
    /// but lacks the key, Err if the object is not among the files.
    fn key(&self, kind: &str, name: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        let obj = self
            .find(kind, name)
            .ok_or_else(|| format!("{kind} {name} is not in the manifests given"))?;
        Ok(object_data(kind, obj)?.remove(key))
    }

    /// Every pod template: (document index, `Kind/name`, JSON pointer of its pod spec).
    fn templates(&self) -> Vec<(usize, String, &'static str)> {
        let mut out = Vec::new();
        for (i, (_, d)) in self.docs.iter().enumerate() {
            let kind = s(d, "kind").unwrap_or("");
            let name = d.get("metadata").and_then(|m| s(m, "name")).unwrap_or("?");
            let ptr = match kind {
                "Pod" => "/spec",
                "Deployment"
                | "StatefulSet"
                | "DaemonSet"
                | "ReplicaSet"
                | "Job"
                | "ReplicationController" => "/spec/template/spec",
                "CronJob" => "/spec/jobTemplate/spec/template/spec",
                _ => continue,
            };
            if d.pointer(ptr).is_some() {
                out.push((i, format!("{kind}/{name}"), ptr));
            }
        }
        out
    }

    /// The container `--container` names (or the only one): where it is.
    pub fn select(&self, container: Option<&str>) -> anyhow::Result<Selected> {
        let tpls = self.templates();
        if tpls.is_empty() {
            bail!(
                "--manifest: no Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob in the files"
            );
        }
        let mut found = Vec::new();
        let mut all = Vec::new();
        for (i, label, ptr) in &tpls {
            let spec = self.docs[*i].1.pointer(ptr).unwrap_or(&Value::Null);
            for (ci, c) in arr(spec, "containers").iter().enumerate() {
                let name = s(c, "name").unwrap_or("?");
                all.push(format!("{label} container {name}"));
                if container.is_none_or(|n| name == n) {
                    found.push(Selected {
                        doc: *i,
                        spec: ptr,
                        container: ci,
                        workload: label.clone(),
                        name: name.to_string(),
                    });
                }
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => bail!(
                "--container {}: no such container (the manifests have: {})",
                container.unwrap_or(""),
                all.join(", ")
            ),
            _ => bail!(
                "several containers match: {}; choose one with --container NAME",
                all.join(", ")
            ),
        }
    }

    /// Document `i`.
    pub fn doc(&self, i: usize) -> &Value {
        &self.docs[i].1
    }

    /// Document `i`, to change (a proposed patch, applied to a copy).
    pub fn doc_mut(&mut self, i: usize) -> &mut Value {
        &mut self.docs[i].1
    }

    /// Add a document (a ConfigMap a proposed patch creates).
    pub fn push(&mut self, source: &str, v: Value) {
        self.docs.push((source.to_string(), v));
    }

    /// Every key of every ConfigMap and Secret: (kind, name, key, bytes).
    pub fn object_keys(&self) -> Vec<(String, String, String, Vec<u8>)> {
        let mut out = Vec::new();
        for (_, d) in &self.docs {
            let kind = s(d, "kind").unwrap_or("");
            if kind != "ConfigMap" && kind != "Secret" {
                continue;
            }
            let name = d.get("metadata").and_then(|m| s(m, "name")).unwrap_or("");
            if let Ok(data) = object_data(kind, d) {
                for (k, v) in data {
                    out.push((kind.to_string(), name.to_string(), k, v));
                }
            }
        }
        out
    }
}

/// Where the evaluated container is in the manifests.
#[derive(Debug, Clone)]
pub struct Selected {
    /// Index of the workload document.
    pub doc: usize,
    /// JSON pointer of its pod spec (`/spec/template/spec`).
    pub spec: &'static str,
    /// Index of the container in the pod spec's `containers`.
    pub container: usize,
    /// `Deployment/name`.
    pub workload: String,
    /// The container's name.
    pub name: String,
}

/// A ConfigMap's or Secret's keys and bytes (`data` base64 for a Secret, `stringData` and
/// a ConfigMap's `data` as text, `binaryData` base64).
fn object_data(kind: &str, obj: &Value) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut out = BTreeMap::new();
    let b64 = |k: &str, v: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(v.split_whitespace().collect::<String>())
            .map_err(|e| format!("{kind} key {k}: not base64: {e}"))
    };
    if let Some(m) = obj.get("data").and_then(Value::as_object) {
        for (k, v) in m {
            let v = v.as_str().unwrap_or_default();
            out.insert(
                k.clone(),
                if kind == "Secret" {
                    b64(k, v)?
                } else {
                    v.as_bytes().to_vec()
                },
            );
        }
    }
    if let Some(m) = obj.get("binaryData").and_then(Value::as_object) {
        for (k, v) in m {
            out.insert(k.clone(), b64(k, v.as_str().unwrap_or_default())?);
        }
    }
    if let Some(m) = obj.get("stringData").and_then(Value::as_object) {
        for (k, v) in m {
            out.insert(k.clone(), v.as_str().unwrap_or_default().as_bytes().to_vec());
        }
    }
    Ok(out)
}

/// `$(VAR)` expansion as the kubelet does it: defined variables are replaced, `$$` is a
/// literal `$`, anything else stays as written.
fn expand(v: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(j) if env.contains_key(&inner[..j]) => {
                    out.push_str(&env[&inner[..j]]);
                    rest = &inner[j + 1..];
                }
                Some(j) => {
                    out.push_str(&rest[i..i + 2 + j + 1]);
                    rest = &inner[j + 1..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn mode_of(v: Option<&Value>, default: u32) -> u32 {
    v.and_then(Value::as_u64)
        .map(|m| m as u32 & 0o7777)
        .unwrap_or(default)
}

/// One volume's files as the atomic writer lays them out: `(relative path, content, mode)`.
type Files = Vec<(String, Content, u32)>;

fn atomic_tree(files: &Files) -> Tree {
    let mut t = Tree::new();
    t.insert(DATA_DIR.as_bytes(), Node::dir(0o755));
    t.insert(
        b"..data",
        Node {
            kind: NodeKind::Symlink(DATA_DIR.as_bytes().to_vec()),
            mode: 0o777,
        },
    );
    let mut tops = Vec::new();
    for (path, content, mode) in files {
        t.insert(
            format!("{DATA_DIR}/{path}").as_bytes(),
            Node {
                kind: NodeKind::File(content.clone()),
                mode: *mode,
            },
        );
        let top = path.split('/').next().unwrap_or(path).to_string();
        if !tops.contains(&top) {
            tops.push(top);
        }
    }
    for top in tops {
        t.insert(
            top.as_bytes(),
            Node {
                kind: NodeKind::Symlink(format!("..data/{top}").into_bytes()),
                mode: 0o777,
            },
        );
    }
    t
}

struct Builder<'a> {
    m: &'a Manifests,
    notes: Vec<String>,
}

impl Builder<'_> {
    /// Files of a Secret/ConfigMap source (a volume or a projected source).
    fn object_files(
        &mut self,
        kind: &str,
        src: &Value,
        default_mode: u32,
        files: &mut Files,
    ) -> anyhow::Result<()> {
        let name_key = if kind == "Secret" { "secretName" } else { "name" };
        let name = s(src, name_key).or_else(|| s(src, "name")).unwrap_or("");
        let optional = src.get("optional").and_then(Value::as_bool).unwrap_or(false);
        let items = arr(src, "items");
        let data = match self.m.find(kind, name) {
            Some(obj) => Some(object_data(kind, obj).map_err(|e| anyhow!("{kind} {name}: {e}"))?),
            None => {
                if !optional {
                    self.notes.push(format!(
                        "{kind} {name} is not in the manifests given: its files are unknown here \
                         (pass the file that defines it)"
                    ));
                }
                None
            }
        };
        if items.is_empty() {
            if let Some(d) = data {
                for (k, v) in d {
                    files.push((k, Content::Bytes(Arc::from(v)), default_mode));
                }
            }
            return Ok(());
        }
        for it in items {
            let key = s(it, "key").unwrap_or("");
            let path = s(it, "path").unwrap_or(key);
            if path.split('/').any(|p| p == ".." || p.is_empty()) {
                bail!("{kind} {name}: item path {path:?} is not a relative path");
            }
            let mode = mode_of(it.get("mode"), default_mode);
            let content = match &data {
                Some(d) => match d.get(key) {
                    Some(v) => Content::Bytes(Arc::from(v.clone())),
                    None if optional => continue,
                    None => bail!("{kind} {name} has no key {key:?} (the kubelet would not start the pod)"),
                },
                None => Content::Unknown(Arc::from(format!(
                    "key {key} of {kind} {name}, not in the manifests given"
                ))),
            };
            files.push((path.to_string(), content, mode));
        }
        Ok(())
    }

    fn volume(&mut self, v: &Value, ca: &Option<Vec<u8>>) -> anyhow::Result<(Tree, bool)> {
        if let Some(sec) = v.get("secret") {
            let mut f = Files::new();
            self.object_files("Secret", sec, mode_of(sec.get("defaultMode"), 0o644), &mut f)?;
            return Ok((atomic_tree(&f), false));
        }
        if let Some(cm) = v.get("configMap") {
            let mut f = Files::new();
            self.object_files("ConfigMap", cm, mode_of(cm.get("defaultMode"), 0o644), &mut f)?;
            return Ok((atomic_tree(&f), false));
        }
        if let Some(p) = v.get("projected") {
            let dm = mode_of(p.get("defaultMode"), 0o644);
            let mut f = Files::new();
            for src in arr(p, "sources") {
                if let Some(sec) = src.get("secret") {
                    self.object_files("Secret", sec, dm, &mut f)?;
                } else if let Some(cm) = src.get("configMap") {
                    self.object_files("ConfigMap", cm, dm, &mut f)?;
                } else if let Some(t) = src.get("serviceAccountToken") {
                    let path = s(t, "path").unwrap_or("token");
                    f.push((
                        path.into(),
                        Content::Unknown(Arc::from("a service-account token")),
                        dm,
                    ));
                } else if src.get("downwardAPI").is_some() || src.get("clusterTrustBundle").is_some() {
                    let what = if src.get("clusterTrustBundle").is_some() {
                        "clusterTrustBundle"
                    } else {
                        "downwardAPI"
                    };
                    if what == "clusterTrustBundle" {
                        let path = src
                            .pointer("/clusterTrustBundle/path")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        f.push((
                            path.into(),
                            Content::Unknown(Arc::from("a ClusterTrustBundle of the cluster")),
                            dm,
                        ));
                    }
                }
            }
            let _ = ca;
            return Ok((atomic_tree(&f), false));
        }
        if v.get("emptyDir").is_some() {
            return Ok((Tree::new(), true));
        }
        let name = s(v, "name").unwrap_or("?");
        let kind = v
            .as_object()
            .and_then(|o| o.keys().find(|k| *k != "name").cloned())
            .unwrap_or_default();
        self.notes.push(format!(
            "volume {name} ({kind}) is not modelled: its content is unknown here"
        ));
        Ok((Tree::new(), false))
    }
}

/// Apply container `container` (or the only one) of the workload in `files` over `base`.
pub fn apply(base: World, files: &[PathBuf], container: Option<&str>) -> anyhow::Result<World> {
    let m = Manifests::load(files)?;
    apply_loaded(base, &m, container)
}

/// [`apply`] with the manifests already read (a proposed patch re-evaluates a changed copy).
pub fn apply_loaded(base: World, m: &Manifests, container: Option<&str>) -> anyhow::Result<World> {
    let sel = m.select(container)?;
    let label = sel.workload.clone();
    let spec = m.doc(sel.doc).pointer(sel.spec).unwrap_or(&Value::Null);
    let c = &arr(spec, "containers")[sel.container];
    let cname = s(c, "name").unwrap_or("?").to_string();
    let mut b = Builder { m, notes: Vec::new() };

    // Environment: image Env < envFrom < env.
    let mut env = base.env().clone();
    for ef in arr(c, "envFrom") {
        let prefix = s(ef, "prefix").unwrap_or("");
        let (kind, r) = match (ef.get("configMapRef"), ef.get("secretRef")) {
            (Some(r), _) => ("ConfigMap", r),
            (None, Some(r)) => ("Secret", r),
            _ => continue,
        };
        let name = s(r, "name").unwrap_or("");
        match m.find(kind, name) {
            Some(obj) => {
                for (k, v) in object_data(kind, obj).map_err(|e| anyhow!("{kind} {name}: {e}"))? {
                    env.insert(format!("{prefix}{k}"), String::from_utf8_lossy(&v).into_owned());
                }
            }
            None if r.get("optional").and_then(Value::as_bool) == Some(true) => {}
            None => b.notes.push(format!(
                "envFrom {kind} {name} is not in the manifests given: its variables are unknown here"
            )),
        }
    }
    for e in arr(c, "env") {
        let Some(name) = s(e, "name") else { continue };
        if let Some(v) = e.get("value") {
            let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            let x = expand(&v, &env);
            env.insert(name.to_string(), x);
        } else if let Some(vf) = e.get("valueFrom") {
            let (kind, r) = match (vf.get("configMapKeyRef"), vf.get("secretKeyRef")) {
                (Some(r), _) => ("ConfigMap", r),
                (None, Some(r)) => ("Secret", r),
                _ => {
                    b.notes.push(format!(
                        "env {name}: fieldRef/resourceFieldRef values are not known before deploy"
                    ));
                    continue;
                }
            };
            let (on, key) = (s(r, "name").unwrap_or(""), s(r, "key").unwrap_or(""));
            match m.key(kind, on, key) {
                Ok(Some(v)) => {
                    env.insert(name.to_string(), String::from_utf8_lossy(&v).into_owned());
                }
                Ok(None) if r.get("optional").and_then(Value::as_bool) == Some(true) => {}
                Ok(None) => {
                    bail!("env {name}: {kind} {on} has no key {key:?} (the kubelet would not start the pod)")
                }
                Err(why) => b
                    .notes
                    .push(format!("env {name}: {why}: its value is unknown here")),
            }
        } else {
            env.insert(name.to_string(), String::new());
        }
    }
    let mut w = base.with_env(env);
    // `command` replaces the entrypoint; `args` alone keep it.
    let command: Vec<String> = arr(c, "command")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if !command.is_empty() {
        if let Some(exe) = w.find_program(&command) {
            w = w.with_exe(exe);
        }
    }

    // Volumes.
    let kube_root_ca = m.key("ConfigMap", "kube-root-ca.crt", "ca.crt").ok().flatten();
    let mut trees: BTreeMap<String, (Arc<Tree>, bool)> = BTreeMap::new();
    for v in arr(spec, "volumes") {
        let name = s(v, "name").unwrap_or("").to_string();
        let (t, writable) = b.volume(v, &kube_root_ca)?;
        trees.insert(name, (Arc::new(t), writable));
    }
    // Init containers writing into shared emptyDirs: unknown content.
    for ic in arr(spec, "initContainers") {
        for vm in arr(ic, "volumeMounts") {
            let vname = s(vm, "name").unwrap_or("");
            let shared = arr(c, "volumeMounts").iter().any(|m| s(m, "name") == Some(vname));
            let writable = trees.get(vname).is_some_and(|(_, wr)| *wr);
            if shared && writable && vm.get("readOnly").and_then(Value::as_bool) != Some(true) {
                b.notes.push(format!(
                    "init container {} writes into emptyDir {vname}, which container {cname} mounts: \
                     what it writes there is unknown before the pod runs",
                    s(ic, "name").unwrap_or("?")
                ));
            }
        }
    }
    let automount = c.get("automountServiceAccountToken").is_none()
        && spec.get("automountServiceAccountToken").and_then(Value::as_bool) != Some(false);
    let mounts_sa = arr(c, "volumeMounts")
        .iter()
        .any(|m| s(m, "mountPath").map(|p| p.trim_end_matches('/')) == Some(SA_DIR));
    if automount && !mounts_sa {
        let ca = match &kube_root_ca {
            Some(b) => Content::Bytes(Arc::from(b.clone())),
            None => Content::Unknown(Arc::from(
                "the cluster's CA (ConfigMap kube-root-ca.crt, not in the manifests given)",
            )),
        };
        let files: Files = vec![
            ("ca.crt".into(), ca, 0o644),
            (
                "namespace".into(),
                Content::Unknown(Arc::from("the pod's namespace")),
                0o644,
            ),
            (
                "token".into(),
                Content::Unknown(Arc::from("a service-account token")),
                0o644,
            ),
        ];
        w = w.with_mount(Path::new(SA_DIR), Arc::new(atomic_tree(&files)), b"", false);
    }
    for vm in arr(c, "volumeMounts") {
        let vname = s(vm, "name").unwrap_or("");
        let Some(mp) = s(vm, "mountPath") else { continue };
        if !mp.starts_with('/') {
            bail!("volumeMount {vname}: mountPath {mp:?} is not absolute");
        }
        let (tree, writable) = trees
            .get(vname)
            .cloned()
            .ok_or_else(|| anyhow!("volumeMount {vname}: no volume {vname} in {label}"))?;
        let writable = writable && vm.get("readOnly").and_then(Value::as_bool) != Some(true);
        let sub = s(vm, "subPath").unwrap_or("");
        if sub.split('/').any(|p| p == "..") || sub.starts_with('/') {
            bail!("volumeMount {vname}: subPath {sub:?} must be a relative path without '..'");
        }
        // A subPath is bind-mounted after resolving its links inside the volume: the file
        // itself appears, without the `..data` indirection (and never sees updates).
        let key = if sub.is_empty() {
            Vec::new()
        } else {
            resolve_in_tree(&tree, sub.trim_matches('/'))
        };
        if !sub.is_empty() && tree.get(&key).is_none() {
            b.notes.push(format!(
                "volumeMount {vname} at {mp}: subPath {sub} is not in the volume (the kubelet would \
                 create an empty directory there)"
            ));
            let mut t = Tree::new();
            t.insert(b"x", Node::dir(0o755));
            w = w.with_mount(Path::new(mp), Arc::new(t), b"x", writable);
            continue;
        }
        w = w.with_mount(Path::new(mp), tree, &key, writable);
    }
    for n in b.notes {
        w.add_note(n);
    }
    let label = format!("{label} container {cname}");
    Ok(w.with_kind(WorldKind::Pod(label)))
}

/// Follow symlinks of a path inside a volume tree (relative targets only, as the atomic
/// writer makes them).
fn resolve_in_tree(t: &Tree, p: &str) -> Vec<u8> {
    let mut parts: Vec<String> = Vec::new();
    let mut pending: Vec<String> = p.split('/').rev().map(str::to_string).collect();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            parts.pop();
            continue;
        }
        if c.is_empty() || c == "." {
            continue;
        }
        parts.push(c);
        let key = parts.join("/");
        if let Some(Node {
            kind: NodeKind::Symlink(target),
            ..
        }) = t.get(key.as_bytes())
        {
            hops += 1;
            if hops > 40 {
                break;
            }
            parts.pop();
            let target = String::from_utf8_lossy(target).into_owned();
            if target.starts_with('/') {
                parts.clear();
            }
            for c in target.split('/').rev() {
                pending.push(c.to_string());
            }
        }
    }
    parts.join("/").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_paren_expansion_follows_the_kubelet() {
        let env: BTreeMap<String, String> = [("A".to_string(), "x".to_string())].into();
        assert_eq!(expand("$(A)/b", &env), "x/b");
        assert_eq!(expand("$(B)/b", &env), "$(B)/b");
        assert_eq!(expand("$$(A)", &env), "$(A)");
        assert_eq!(expand("a$b$(A", &env), "a$b$(A");
    }
}
