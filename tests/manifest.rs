//! `--manifest`: a pod's env and volumes applied over its container's filesystem, as the
//! kubelet would, before anything is deployed. Fixture trees and manifests are generated.

#[path = "common/store.rs"]
mod common;
#[path = "common/pod.rs"]
mod pod;

use std::path::Path;

use common::*;

fn yaml_block(pem: &str, indent: usize) -> String {
    pem.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(indent)))
        .collect()
}

fn b64(data: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        Case {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }
}

fn verify(root: &Path, manifests: &[&str], chain: &str, runtime: &str, extra: &[&str]) -> (i32, String) {
    let mut args: Vec<&str> = vec!["--root", root.to_str().unwrap()];
    for m in manifests {
        args.push("--manifest");
        args.push(m);
    }
    args.extend_from_slice(extra);
    args.extend_from_slice(&["verify", chain, "--name", "repo.test", "--runtime", runtime]);
    let (code, out, err) = tlsdoctor(&args, &[]);
    (code, format!("{out}{err}"))
}

/// Flux's story: a corporate root in a Secret, mounted with subPath into /etc/ssl/certs.
/// Go reads every file of that directory and trusts it; OpenSSL reads the bundle and the
/// subject-hash links, and nothing made a hash link for the new file.
#[test]
fn a_subpath_secret_in_etc_ssl_certs_is_seen_by_go_not_openssl() {
    let (public, corp) = (ca("Manifest Public Root"), ca("Manifest Zscaler Root"));
    let srv = leaf(&corp, "repo.test");
    let fs = Fs::new();
    debian(&fs, &[&public]);
    let c = Case::new();
    let chain = c.file("chain.pem", &srv.pem());
    let deploy = c.file(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: source-controller\nspec:\n  template:\n    spec:\n      containers:\n      - name: manager\n        image: fluxcd/source-controller\n        volumeMounts:\n        - name: zscaler\n          mountPath: /etc/ssl/certs/zscaler.pem\n          subPath: zscaler.pem\n          readOnly: true\n      volumes:\n      - name: zscaler\n        secret:\n          secretName: zscaler-root\n",
    );
    let secret = c.file(
        "secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: zscaler-root\ndata:\n  zscaler.pem: {}\n",
            b64(&corp.pem())
        ),
    );
    let (code, out) = verify(fs.root(), &[&deploy, &secret], &chain, "go", &[]);
    assert_eq!(code, 0, "go: {out}");
    let (code, out) = verify(fs.root(), &[&deploy, &secret], &chain, "openssl", &[]);
    assert_eq!(code, 1, "openssl: {out}");
    // Without the manifest neither trusts it.
    let (code, out, err) = tlsdoctor(
        &[
            "--root",
            fs.root().to_str().unwrap(),
            "verify",
            &chain,
            "--name",
            "repo.test",
            "--runtime",
            "go",
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}{err}");
    // The World shows the file itself at the mount point, no `..data` link.
    let w = tlsdoctor::world::manifest::apply(
        tlsdoctor::world::World::fixture(fs.root(), &[]),
        &[deploy.clone().into(), secret.clone().into()],
        None,
    )
    .unwrap();
    assert_eq!(
        w.read(Path::new("/etc/ssl/certs/zscaler.pem")).unwrap(),
        corp.pem().as_bytes()
    );
    assert_eq!(
        w.read_link(Path::new("/etc/ssl/certs/zscaler.pem")).unwrap(),
        None
    );
    assert!(w.exists(Path::new("/etc/ssl/certs/ca-certificates.crt")));
}

/// External-DNS's story: SSL_CERT_FILE from the pod (here through a ConfigMap key and
/// `$(VAR)` expansion) decides; a whole Secret volume is laid out with `..data` links.
#[test]
fn env_from_config_map_keys_and_secret_volumes() {
    let (public, corp) = (ca("Manifest Env Public"), ca("Manifest Env Corp"));
    let srv = leaf(&corp, "repo.test");
    let fs = Fs::new();
    debian(&fs, &[&public]);
    let c = Case::new();
    let chain = c.file("chain.pem", &srv.pem());
    let all = c.file(
        "all.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tls\ndata:\n  dir: /etc/corp\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: corp-ca\nstringData:\n  ca.crt: |\n{}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: external-dns\nspec:\n  containers:\n  - name: external-dns\n    env:\n    - name: CA_DIR\n      valueFrom:\n        configMapKeyRef:\n          name: tls\n          key: dir\n    - name: SSL_CERT_FILE\n      value: $(CA_DIR)/ca.crt\n    volumeMounts:\n    - name: corp\n      mountPath: /etc/corp\n  volumes:\n  - name: corp\n    secret:\n      secretName: corp-ca\n",
            yaml_block(&corp.pem(), 4)
        ),
    );
    let (code, out) = verify(fs.root(), &[&all], &chain, "go", &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = verify(fs.root(), &[&all], &chain, "openssl", &[]);
    assert_eq!(code, 0, "{out}");
    let w = tlsdoctor::world::manifest::apply(
        tlsdoctor::world::World::fixture(fs.root(), &[]),
        &[all.clone().into()],
        None,
    )
    .unwrap();
    assert_eq!(w.var("SSL_CERT_FILE"), Some("/etc/corp/ca.crt"));
    assert_eq!(
        w.read_link(Path::new("/etc/corp/ca.crt")).unwrap().unwrap(),
        Path::new("..data/ca.crt")
    );
    assert!(!w.is_writable_dir(Path::new("/etc/corp")));
    // --env still wins over the pod ("what if").
    let (code, out) = verify(fs.root(), &[&all], &chain, "go", &["--env", "SSL_CERT_FILE="]);
    assert_eq!(code, 1, "{out}");
}

/// DevLake's story: a Secret mounted into /usr/local/share/ca-certificates is a staging
/// area; nothing runs update-ca-certificates, so no runtime trusts it.
#[test]
fn a_staging_area_mount_is_trusted_by_nobody() {
    let (public, corp) = (ca("Manifest Staging Public"), ca("Manifest Staging Corp"));
    let srv = leaf(&corp, "repo.test");
    let fs = Fs::new();
    debian(&fs, &[&public]);
    let c = Case::new();
    let chain = c.file("chain.pem", &srv.pem());
    let all = c.file(
        "devlake.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: devlake\nspec:\n  template:\n    spec:\n      containers:\n      - name: lake\n        volumeMounts:\n        - name: ca\n          mountPath: /usr/local/share/ca-certificates\n      volumes:\n      - name: ca\n        secret:\n          secretName: corp\n          items:\n          - key: root\n            path: corp.crt\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: corp\ndata:\n  root: {}\n",
            b64(&corp.pem())
        ),
    );
    for rt in ["go", "openssl"] {
        let (code, out) = verify(fs.root(), &[&all], &chain, rt, &[]);
        assert_eq!(code, 1, "{rt}: {out}");
    }
    let (code, out, err) = tlsdoctor(
        &[
            "--root",
            fs.root().to_str().unwrap(),
            "--manifest",
            &all,
            "store",
            "--find",
            "Manifest Staging Corp",
        ],
        &[],
    );
    assert!(
        out.contains("/usr/local/share/ca-certificates"),
        "{code} {out}{err}"
    );
}

#[test]
fn service_account_ca_init_containers_and_missing_objects_are_reported() {
    let fs = Fs::new();
    distroless(&fs, &[&ca("Manifest SA Public")]);
    let kube = ca("Manifest Kube Root");
    let c = Case::new();
    let pod = c.file(
        "pod.yaml",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: sync\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers:\n          - name: fetch\n            volumeMounts:\n            - name: work\n              mountPath: /work\n          containers:\n          - name: sync\n            volumeMounts:\n            - name: work\n              mountPath: /etc/ssl/extra\n            - name: missing\n              mountPath: /etc/missing\n          volumes:\n          - name: work\n            emptyDir: {}\n          - name: missing\n            configMap:\n              name: not-here\n              items:\n              - key: ca\n                path: ca.pem\n",
    );
    let cm = c.file(
        "kube-root.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kube-root-ca.crt\ndata:\n  ca.crt: |\n{}",
            yaml_block(&kube.pem(), 4)
        ),
    );
    let w = tlsdoctor::world::manifest::apply(
        tlsdoctor::world::World::fixture(fs.root(), &[]),
        &[pod.clone().into(), cm.into()],
        Some("sync"),
    )
    .unwrap();
    let ca = w
        .read(Path::new("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"))
        .unwrap();
    assert_eq!(ca, kube.pem().as_bytes());
    let notes = w.notes().join("\n");
    assert!(
        notes.contains("init container fetch writes into emptyDir work"),
        "{notes}"
    );
    assert!(
        notes.contains("ConfigMap not-here is not in the manifests given"),
        "{notes}"
    );
    let e = w.read(Path::new("/etc/missing/ca.pem")).unwrap_err();
    assert!(e.to_string().contains("unknown"), "{e}");
    assert!(w.is_writable_dir(Path::new("/etc/ssl/extra")));
    // Without kube-root-ca.crt the CA is unknown, not absent; the notes reach stderr.
    let (code, out, err) = tlsdoctor(
        &[
            "--root",
            fs.root().to_str().unwrap(),
            "--manifest",
            &pod,
            "--container",
            "sync",
            "store",
            "--runtime",
            "go",
        ],
        &[],
    );
    assert!(code == 0 || code == 1, "{out}{err}");
    assert!(err.contains("init container fetch"), "{err}");
    // Errors: an unknown container, no workload, junk.
    let (code, _, err) = tlsdoctor(
        &[
            "--root",
            fs.root().to_str().unwrap(),
            "--manifest",
            &pod,
            "--container",
            "nope",
            "store",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("CronJob/sync container sync"), "{err}");
    let junk = c.file("junk.yaml", "kind: [unclosed\n");
    let (code, _, err) = tlsdoctor(
        &[
            "--root",
            fs.root().to_str().unwrap(),
            "--manifest",
            &junk,
            "store",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not YAML"), "{err}");
    let (code, _, err) = tlsdoctor(&["--manifest", &pod, "store"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--image"), "{err}");
}

// ---------------------------------------------------------------------------------------
// The real runtimes inside the pod's filesystem: the World is materialised into a
// directory (every link read through, as a process in the pod would see the bytes), then
// a static Go verifier runs chrooted there and OpenSSL reads its default locations there.

/// Real OpenSSL's default locations (OPENSSLDIR /usr/lib/ssl: cert.pem and certs/), read
/// in the materialised pod filesystem.
fn real_openssl(tree: &Path, chain: &str) -> bool {
    let cp = tree.join("chain-openssl.pem");
    std::fs::write(&cp, chain).unwrap();
    let o = std::process::Command::new("openssl")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("verify")
        .arg("-CAfile")
        .arg(tree.join("usr/lib/ssl/cert.pem"))
        .arg("-CApath")
        .arg(tree.join("usr/lib/ssl/certs"))
        .arg(&cp)
        .output()
        .unwrap();
    o.status.success()
}

#[test]
fn flux_subpath_verdicts_match_real_go_and_openssl_in_the_pod() {
    if !have("go") || !have("openssl") {
        return;
    }
    let (public, corp) = (ca("Manifest Real Public"), ca("Manifest Real Zscaler"));
    let srv = leaf(&corp, "repo.test");
    let fs = Fs::new();
    debian(&fs, &[&public]);
    let c = Case::new();
    let chain = c.file("chain.pem", &srv.pem());
    let all = c.file(
        "flux.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: source-controller\nspec:\n  template:\n    spec:\n      containers:\n      - name: manager\n        volumeMounts:\n        - name: zscaler\n          mountPath: /etc/ssl/certs/zscaler.pem\n          subPath: zscaler.pem\n      volumes:\n      - name: zscaler\n        secret:\n          secretName: zscaler-root\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: zscaler-root\ndata:\n  zscaler.pem: {}\n",
            b64(&corp.pem())
        ),
    );
    let w = tlsdoctor::world::manifest::apply(
        tlsdoctor::world::World::fixture(fs.root(), &[]),
        &[all.clone().into()],
        None,
    )
    .unwrap();
    let tree = c.dir.path().join("pod-root");
    pod::materialise(&w, Path::new("/"), &tree);
    let go = pod::real_go(&tree, w.env(), &srv.pem(), "repo.test");
    let ossl = real_openssl(&tree, &srv.pem());
    let (code_go, out) = verify(fs.root(), &[&all], &chain, "go", &[]);
    assert_eq!(code_go == 0, go == "ok", "go says {go:?}; tlsdoctor: {out}");
    let (code_ossl, out) = verify(fs.root(), &[&all], &chain, "openssl", &[]);
    assert_eq!(code_ossl == 0, ossl, "openssl says {ossl}; tlsdoctor: {out}");
    // The story itself: Go trusts the subPath file, OpenSSL does not.
    assert_eq!(go, "ok");
    assert!(!ossl);
}

/// `--ca-in-world`: a program that trusts only its own CA file, read inside the pod (a Helm
/// repository's `caFile`). The file exists but lacks the corporate root: pointing variables
/// or the certificate directory at the CA changes nothing for such a program, and mounting
/// the CA alone over the file would drop what it held; the proven patch is the file's
/// certificates plus the CA, mounted over it.
#[test]
fn a_program_given_its_own_ca_file_in_the_pod_gets_that_file_patched() {
    let (public, corp) = (ca("Manifest CaFile Public"), ca("Manifest CaFile Corp"));
    let srv = leaf(&corp, "repo.test");
    let fs = Fs::new();
    debian(&fs, &[&public]);
    let c = Case::new();
    // The server sends its root too: the CA to trust is in the chain.
    let chain = c.file("chain.pem", &format!("{}{}", srv.pem(), corp.pem()));
    let pod = c.file(
        "pod.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: helm\nspec:\n  containers:\n  - name: helm\n    volumeMounts:\n    - name: corp\n      mountPath: /etc/corp\n  volumes:\n  - name: corp\n    secret:\n      secretName: corp-ca\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: corp-ca\ndata:\n  ca.crt: {}\n",
            b64(&corp.pem())
        ),
    );
    let ca_file = "/etc/ssl/certs/ca-certificates.crt";
    let (code, out) = verify(fs.root(), &[&pod], &chain, "go", &[]);
    assert_eq!(code, 1, "{out}");
    let (code, out, err) = tlsdoctor(
        &[
            "--root",
            fs.root().to_str().unwrap(),
            "--manifest",
            &pod,
            "verify",
            &chain,
            "--name",
            "repo.test",
            "--runtime",
            "go",
            "--ca-in-world",
            ca_file,
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let patch = &doc["patch"];
    assert_eq!(patch["strategy"], "bundle", "{doc}");
    assert_eq!(patch["proven"], true, "{patch}");
    assert_eq!(patch["proof"][0]["anchors_lost"], 0, "{patch}");
    assert_eq!(patch["proof"][0]["anchors_after"], 2, "{patch}");
    assert_eq!(patch["json_patch"][0]["value"]["mountPath"], ca_file, "{patch}");
    let data = patch["new_objects"][0]["data"]["ca-certificates.crt"]
        .as_str()
        .unwrap();
    assert!(data.contains(public.pem().trim()) && data.contains(corp.pem().trim()));
    // The explicit store names the file as the program's own, not --ca.
    let fix = doc["findings"][0]["fix"].as_str().unwrap_or_default();
    assert!(
        fix.contains(&format!("{ca_file}, the CA file the program reads")),
        "{doc}"
    );

    // A file the pod does not have is the diagnosis (exit 1, ca-file-missing), not a
    // usage error (a relative path is taken from the World's /); --ca and --ca-in-world do
    // not go together.
    let (code, out, err) = tlsdoctor(
        &[
            "--root",
            fs.root().to_str().unwrap(),
            "verify",
            &chain,
            "--runtime",
            "go",
            "--ca-in-world",
            "nowhere/ca.pem",
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("\"ca-file-missing\""), "{out}");
    assert!(
        out.contains("open /nowhere/ca.pem: no such file or directory"),
        "{out}"
    );
    let (code, _, err) = tlsdoctor(&["verify", &chain, "--ca", &chain, "--ca-in-world", "/x"], &[]);
    assert_eq!(code, 2, "{err}");
}

/// A mount deeper than what the image has: the directories leading to it exist in the
/// container (the runtime creates them) and are listed, as in the pod.
#[test]
fn directories_leading_to_a_mount_are_listed() {
    let fs = Fs::new();
    distroless(&fs, &[&ca("Manifest Deep Public")]);
    let c = Case::new();
    let pod = c.file(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: p\n    volumeMounts:\n    - name: ca\n      mountPath: /opt/deep/certs\n  volumes:\n  - name: ca\n    configMap:\n      name: ca\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ca\ndata:\n  ca.crt: x\n",
    );
    let w = tlsdoctor::world::manifest::apply(
        tlsdoctor::world::World::fixture(fs.root(), &[]),
        &[pod.into()],
        None,
    )
    .unwrap();
    let names = |p: &str| -> Vec<String> {
        w.read_dir(Path::new(p))
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect()
    };
    assert!(names("/").contains(&"opt".to_string()), "{:?}", names("/"));
    assert_eq!(names("/opt"), ["deep"]);
    assert_eq!(names("/opt/deep"), ["certs"]);
    assert!(names("/opt/deep/certs").contains(&"ca.crt".to_string()));
}
