//! Runtimes built on OpenSSL or on a compiled-in list: Node.js, Python `ssl`, Python
//! requests and the curl tool. The rules are in `docs/TRUST-RULES.md` ("Other runtimes");
//! each store says in its assumptions what could not be observed in the World.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::finding::{Finding, Severity};
use crate::world::{FileType, World};

use super::distro::Distro;
use super::loader::{disp, ReadErr};
use super::openssl::{self, Paths};
use super::{Anchor, Cx, Outcome, Provenance, Runtime, Step, StepKind, TrustStore};

/// The default `PATH` when the World does not set one.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The first `name` on the World's `PATH` (inside the World).
pub fn which(world: &World, name: &str) -> Option<PathBuf> {
    let path = world.var_nonempty("PATH").unwrap_or(DEFAULT_PATH);
    path.split(':')
        .filter(|d| d.starts_with('/'))
        .map(|d| Path::new(d).join(name))
        .find(|p| world.file_type(p).ok() == Some(FileType::File))
}

fn first_var<'w>(world: &'w World, vars: &[&'static str]) -> Option<(&'static str, &'w str)> {
    vars.iter().find_map(|v| world.var_nonempty(v).map(|x| (*v, x)))
}

/// Why an extra runtime is evidently relevant in this World (None: no sign of it): its
/// unit's variables, binaries and other signs ([`crate::runtimes::presence`]).
pub fn relevance(world: &World, r: Runtime) -> Option<String> {
    crate::runtimes::presence(world, r)
}

/// Python package directories in the World, in the order a system Python searches them.
pub fn site_packages(world: &World) -> Vec<PathBuf> {
    let mut out = vec![];
    for (base, kinds) in [
        ("/usr/local/lib", &["dist-packages", "site-packages"][..]),
        ("/usr/lib", &["site-packages", "dist-packages"][..]),
    ] {
        let mut vers: Vec<String> = world
            .read_dir(Path::new(base))
            .map(|es| {
                es.into_iter()
                    .map(|e| e.name)
                    .filter(|n| n.starts_with("python3"))
                    .collect()
            })
            .unwrap_or_default();
        // python3.12 before python3.9; Debian's version-less python3 last.
        vers.sort_by_key(|v| std::cmp::Reverse(v.trim_start_matches("python3.").parse::<u32>().unwrap_or(0)));
        for v in vers {
            for k in kinds {
                let d = Path::new(base).join(&v).join(k);
                if world.file_type(&d).ok() == Some(FileType::Dir) {
                    out.push(d);
                }
            }
        }
    }
    out
}

/// The newest `python3.N` whose standard library is in the World (/usr/lib, /usr/local/lib).
fn python_version(world: &World) -> Option<(u32, u32)> {
    let mut best = None;
    for base in ["/usr/lib", "/usr/local/lib"] {
        let Ok(es) = world.read_dir(Path::new(base)) else {
            continue;
        };
        for e in es {
            if let Some(m) = e
                .name
                .strip_prefix("python3.")
                .and_then(|m| m.parse::<u32>().ok())
            {
                if world.exists(&Path::new(base).join(&e.name).join("ssl.py")) {
                    best = best.max(Some((3, m)));
                }
            }
        }
    }
    best
}

/// Said in a store's assumptions when the runtime verifies with
/// `X509_V_FLAG_PARTIAL_CHAIN` (Python ≥ 3.13); the diagnosis reads it.
pub const PARTIAL_CHAIN_MARK: &str = "X509_V_FLAG_PARTIAL_CHAIN is on";

/// Append `other` to `store`: steps, findings, anchors (de-duplicated by DER).
fn merge(store: &mut TrustStore, other: TrustStore) {
    let mut seen: HashSet<String> = store.anchors.iter().map(|a| a.cert.sha256.clone()).collect();
    store.steps.extend(other.steps);
    store.findings.extend(other.findings);
    store.assumptions.extend(other.assumptions);
    for a in other.anchors {
        if seen.insert(a.cert.sha256.clone()) {
            store.anchors.push(a);
        }
    }
    if store.error.is_none() {
        store.error = other.error;
    }
}

/// The step of `paths.file`, if the file was considered.
fn file_step<'s>(store: &'s TrustStore, file: &Path) -> Option<&'s Step> {
    let f = disp(file);
    store
        .steps
        .iter()
        .find(|s| s.kind == StepKind::File && s.source == f)
}

// ---------------------------------------------------------------- Node.js

/// Node's version from the headers its packages install, when present.
fn node_version(world: &World) -> Option<(u32, u32)> {
    for p in [
        "/usr/include/node/node_version.h",
        "/usr/local/include/node/node_version.h",
    ] {
        if let Ok(b) = world.read_capped(Path::new(p), 1 << 20) {
            let t = String::from_utf8_lossy(&b);
            let get = |k: &str| {
                t.lines().find_map(|l| {
                    let l = l.trim();
                    let rest = l.strip_prefix("#define ")?.strip_prefix(k)?;
                    rest.trim().parse::<u32>().ok()
                })
            };
            if let (Some(a), Some(b)) = (get("NODE_MAJOR_VERSION"), get("NODE_MINOR_VERSION")) {
                return Some((a, b));
            }
        }
    }
    None
}

/// Debian/Ubuntu's own nodejs links the system libnode and OpenSSL and defaults to
/// `--use-openssl-ca`; NodeSource and upstream binaries are self-contained.
fn debian_libnode(world: &World) -> Option<PathBuf> {
    for d in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib",
    ] {
        if let Ok(es) = world.read_dir(Path::new(d)) {
            if let Some(e) = es.into_iter().find(|e| e.name.starts_with("libnode.so")) {
                return Some(e.path);
            }
        }
    }
    None
}

pub fn node(cx: &Cx) -> TrustStore {
    let w = cx.world();
    let mut store = TrustStore::empty(Runtime::Node);
    let rt = [Runtime::Node.code()];
    let opts: Vec<&str> = w.var("NODE_OPTIONS").unwrap_or("").split_whitespace().collect();
    let version = node_version(w);
    let libnode = debian_libnode(w);
    match version {
        Some((a, b)) => store
            .assumptions
            .push(format!("Node.js {a}.{b} (from node_version.h)")),
        None => store
            .assumptions
            .push("Node.js version unknown (no node_version.h): assuming a current release".into()),
    }
    let flag_ok = |(a, b): (u32, u32)| a >= 24 || (a == 23 && b >= 9) || (a == 22 && b >= 19);
    let env_ok = |(a, b): (u32, u32)| a >= 25 || (a == 24 && b >= 6) || (a == 22 && b >= 19);
    let use_openssl = opts.contains(&"--use-openssl-ca");
    let use_bundled = opts.contains(&"--use-bundled-ca");
    let system_flag = opts.contains(&"--use-system-ca");
    let system_env = w.var("NODE_USE_SYSTEM_CA") == Some("1");
    if use_openssl && use_bundled {
        store.error = Some("node: either --use-openssl-ca or --use-bundled-ca can be used, not both".into());
    }
    if system_flag && version.is_some_and(|v| !flag_ok(v)) {
        store.error = Some("node: --use-system-ca is not allowed in NODE_OPTIONS".into());
    }
    if store.error.is_some() {
        store.findings.push(
            Finding::new(
                "node-options-invalid",
                Severity::Error,
                format!(
                    "NODE_OPTIONS={:?}: node refuses to start ({}).",
                    w.var("NODE_OPTIONS").unwrap_or(""),
                    store.error.clone().unwrap_or_default()
                ),
            )
            .fix("remove the flag this Node.js version does not know from NODE_OPTIONS")
            .runtimes(&rt),
        );
        return store;
    }
    // The OpenSSL paths Node would use: the system OpenSSL's for Debian's build, the
    // bundled OpenSSL's (OPENSSLDIR /etc/ssl) otherwise.
    let ossl_dir = match (&cx.opts.openssldir, &libnode) {
        (Some(d), _) => d.clone(),
        (None, Some(_)) => openssl::openssldir(cx).0,
        (None, None) => PathBuf::from("/etc/ssl"),
    };
    let openssl_ca = use_openssl || (libnode.is_some() && !use_bundled);
    if let Some(l) = &libnode {
        store.assumptions.push(format!(
            "Debian's nodejs ({} present): built with --openssl-use-def-ca-store, so OpenSSL's default paths \
             (OPENSSLDIR {}) replace the bundled list",
            disp(l),
            disp(&ossl_dir)
        ));
    }
    if openssl_ca {
        let mut s = openssl::resolve_paths(cx, Runtime::Node, &openssl::default_paths(cx, &ossl_dir));
        for st in &mut s.steps {
            st.reason = Some(format!(
                "{}; {}",
                st.reason.clone().unwrap_or_default(),
                if use_openssl {
                    "--use-openssl-ca"
                } else {
                    "OpenSSL CA store (Debian build default)"
                }
            ));
        }
        merge(&mut store, s);
    } else {
        let wp = super::webpki::resolve(cx);
        let n = wp.anchors.len();
        for a in wp.anchors {
            store.anchors.push(Anchor {
                provenance: Provenance {
                    path: "builtin:node".into(),
                    ..a.provenance
                },
                ..a
            });
        }
        store.steps.push(Step {
            source: "builtin:node".into(),
            kind: StepKind::Builtin,
            outcome: Outcome::Loaded,
            anchors: n,
            reason: Some(
                "Node's compiled-in Mozilla list (default; --use-openssl-ca switches to OpenSSL's paths)"
                    .into(),
            ),
        });
        store.assumptions.push(format!(
            "Node's compiled-in root list is represented by webpki-roots {} ({n} anchors), which tracks the \
             same Mozilla list; `node -p \"tls.rootCertificates.length\"` shows the real count",
            super::webpki::VERSION
        ));
        // --use-system-ca / NODE_USE_SYSTEM_CA=1 add the system store (on Linux: OpenSSL's
        // default paths) to the bundled list.
        let system = system_flag || (system_env && version.is_none_or(env_ok));
        if system_env && !system_flag && version.is_some_and(|v| !env_ok(v)) {
            store.steps.push(Step {
                source: "NODE_USE_SYSTEM_CA".into(),
                kind: StepKind::Builtin,
                outcome: Outcome::Skipped,
                anchors: 0,
                reason: Some("this Node.js version ignores NODE_USE_SYSTEM_CA (24.6+, 22.19+)".into()),
            });
        }
        if system {
            let mut s = openssl::resolve_paths(cx, Runtime::Node, &openssl::default_paths(cx, &ossl_dir));
            for st in &mut s.steps {
                st.reason = Some(format!(
                    "{}; system store added by {}",
                    st.reason.clone().unwrap_or_default(),
                    if system_flag {
                        "--use-system-ca"
                    } else {
                        "NODE_USE_SYSTEM_CA=1"
                    }
                ));
            }
            merge(&mut store, s);
        }
    }
    node_extra(cx, &mut store);
    // A real certificate of a root that is also in the compiled-in list is the same
    // anchor (the builtin ones are reconstructed): count it once.
    let real: HashSet<Vec<u8>> = store
        .anchors
        .iter()
        .filter(|a| a.provenance.path != "builtin:node" && a.cert.self_issued)
        .filter(|a| super::find::in_webpki(&a.cert))
        .map(|a| a.cert.subject_der.clone())
        .collect();
    if !real.is_empty() {
        store
            .anchors
            .retain(|a| a.provenance.path != "builtin:node" || !real.contains(&a.cert.subject_der));
    }
    store
}

/// `NODE_EXTRA_CA_CERTS`: read once at startup; `CERTIFICATE` blocks are added until one
/// fails (those before it stay); a load failure only prints a warning.
fn node_extra(cx: &Cx, store: &mut TrustStore) {
    let w = cx.world();
    let Some(f) = w.var_nonempty("NODE_EXTRA_CA_CERTS") else {
        return;
    };
    let rt = [Runtime::Node.code()];
    let path = PathBuf::from(f);
    let loaded = cx.loader.file(&path);
    let mut seen: HashSet<String> = store.anchors.iter().map(|a| a.cert.sha256.clone()).collect();
    let warn = |why: &str| format!("Warning: Ignoring extra certs from `{f}`, load failed: {why}");
    let (outcome, n, reason, warning) = match &*loaded {
        Ok(c) => {
            let mut n = 0;
            let mut failed = None;
            for b in &c.blocks {
                if b.label != "CERTIFICATE" && b.label != "X509 CERTIFICATE" {
                    continue;
                }
                match &b.cert {
                    Some(Ok(cert)) => {
                        n += 1;
                        if seen.insert(cert.sha256.clone()) {
                            store.anchors.push(Anchor {
                                cert: cert.clone(),
                                provenance: Provenance {
                                    path: f.to_string(),
                                    resolved: (c.resolved != path).then(|| disp(&c.resolved)),
                                    block: b.index,
                                    line: b.line,
                                },
                                hash_name: None,
                                trusted_cert_block: false,
                                aux_trust: None,
                            });
                        }
                    }
                    _ => {
                        failed = Some(format!(
                            "block {} (line {}) does not decode",
                            b.index.unwrap_or(0),
                            b.line.unwrap_or(0)
                        ));
                        break;
                    }
                }
            }
            match failed {
                Some(why) => (
                    if n > 0 { Outcome::Loaded } else { Outcome::Error },
                    n,
                    format!("set by NODE_EXTRA_CA_CERTS; {why}: the certificates after it are ignored"),
                    Some(warn(&format!("error:0480006C:PEM routines::no start line or bad base64 ({why})"))),
                ),
                None if n == 0 => (
                    Outcome::Error,
                    0,
                    "set by NODE_EXTRA_CA_CERTS; no PEM CERTIFICATE block in it (DER and TRUSTED CERTIFICATE are not read)"
                        .into(),
                    None,
                ),
                None => (Outcome::Loaded, n, "set by NODE_EXTRA_CA_CERTS (added to the other roots)".into(), None),
            }
        }
        Err(ReadErr::Missing) => (
            Outcome::Missing,
            0,
            "set by NODE_EXTRA_CA_CERTS".into(),
            Some(warn("error:80000002:system library::No such file or directory")),
        ),
        Err(e) => (
            Outcome::Error,
            0,
            format!("set by NODE_EXTRA_CA_CERTS; {}", e.describe()),
            Some(warn(&match e {
                ReadErr::Denied => "error:8000000D:system library::Permission denied".to_string(),
                ReadErr::IsDir => "error:80000015:system library::Is a directory".to_string(),
                other => other.describe(),
            })),
        ),
    };
    store.steps.push(Step {
        source: f.to_string(),
        kind: StepKind::File,
        outcome,
        anchors: n,
        reason: Some(reason),
    });
    if let Some(wm) = warning {
        store.findings.push(
            Finding::new(
                "node-extra-ca-certs-failed",
                if n == 0 { Severity::Error } else { Severity::Warning },
                format!("NODE_EXTRA_CA_CERTS is not (fully) used; node prints at startup: {wm}"),
            )
            .fix(format!(
                "point NODE_EXTRA_CA_CERTS at a readable PEM file of CERTIFICATE blocks; it is read once when \
                 node starts, so restart the process ({})",
                cx.distro.title()
            ))
            .runtimes(&rt)
            .path(f.to_string()),
        );
    } else if n == 0 {
        store.findings.push(
            Finding::new(
                "node-extra-ca-certs-empty",
                Severity::Error,
                format!("NODE_EXTRA_CA_CERTS={f} holds no PEM CERTIFICATE block: node adds nothing."),
            )
            .fix(format!(
                "convert it to PEM: `openssl x509 -inform der -in {f} -out ca.pem`"
            ))
            .runtimes(&rt)
            .path(f.to_string()),
        );
    }
}

// ---------------------------------------------------------------- Python

pub fn python(cx: &Cx) -> TrustStore {
    let (dir, assumption) = openssl::openssldir(cx);
    let mut store = openssl::resolve_paths(cx, Runtime::Python, &openssl::default_paths(cx, &dir));
    if python_version(cx.world()).is_some_and(|v| v >= (3, 13)) {
        store
            .findings
            .retain(|f| f.code != "openssl-not-self-signed-anchor");
    }
    store.assumptions.push(format!(
        "ssl.create_default_context() with the system OpenSSL: load_default_certs() = OpenSSL's default paths; {assumption}"
    ));
    match python_version(cx.world()) {
        Some((3, m)) if m >= 13 => store.assumptions.push(format!(
            "Python 3.{m}: create_default_context() also sets VERIFY_X509_PARTIAL_CHAIN ({PARTIAL_CHAIN_MARK}: \
             any certificate in the store is an anchor) and VERIFY_X509_STRICT (its extra RFC 5280 checks are \
             not emulated)"
        )),
        Some((a, b)) => store.assumptions.push(format!("Python {a}.{b} found in the World")),
        None => store
            .assumptions
            .push("no /usr/lib/python3.N found: assuming Python 3.7–3.12 behaviour".into()),
    }
    store
}

/// Where certifi's `where()` points in this World: (path, how it was found).
fn certifi(world: &World) -> Option<(PathBuf, String)> {
    for sp in site_packages(world) {
        let d = sp.join("certifi");
        if world.file_type(&d).ok() != Some(FileType::Dir) {
            continue;
        }
        // Debian's python3-certifi patches where() to return the system bundle.
        if let Ok(b) = world.read_capped(&d.join("core.py"), 1 << 20) {
            let t = String::from_utf8_lossy(&b);
            if let Some(p) = t
                .split(['"', '\''])
                .find(|s| s.starts_with("/etc/") && (s.ends_with(".crt") || s.ends_with(".pem")))
            {
                return Some((
                    PathBuf::from(p),
                    format!(
                        "certifi.where() (the distribution's {} returns it)",
                        disp(&d.join("core.py"))
                    ),
                ));
            }
        }
        let pem = d.join("cacert.pem");
        // A distribution's certifi may link its bundle to the system one.
        if let Ok(real) = world.canonical(&pem) {
            if real != pem && world.exists(&real) {
                return Some((real, format!("certifi.where() ({} links to it)", disp(&pem))));
            }
        }
        if world.exists(&pem) {
            return Some((
                pem,
                format!(
                    "certifi.where() ({} bundles its own copy of Mozilla's list)",
                    disp(&d)
                ),
            ));
        }
    }
    None
}

pub fn python_requests(cx: &Cx) -> TrustStore {
    let w = cx.world();
    let rt = [Runtime::PythonRequests.code()];
    // requests: `os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    // or verify` (sessions.merge_environment_settings), verify=True -> certifi.where().
    let chosen = first_var(w, &["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
        .map(|(v, p)| (PathBuf::from(p), format!("set by {v}"), Some(v)))
        .or_else(|| certifi(w).map(|(p, why)| (p, why, None)));
    let mut store = TrustStore::empty(Runtime::PythonRequests);
    store.assumptions.push(
        "requests ≥ 2.x with urllib3 2.x: the bundle goes to load_verify_locations() (a directory as capath), \
         OpenSSL's default paths and SSL_CERT_FILE/SSL_CERT_DIR are not used; urllib3 2 sets \
         hostname_checks_common_name = False"
            .into(),
    );
    let Some((path, why, var)) = chosen else {
        store.error = Some("ModuleNotFoundError: No module named 'certifi'".into());
        store.steps.push(Step {
            source: "certifi".into(),
            kind: StepKind::File,
            outcome: Outcome::Missing,
            anchors: 0,
            reason: Some(
                "no certifi package in the system site-packages (a virtualenv may have its own)".into(),
            ),
        });
        return store;
    };
    let is_dir = w.file_type(&path).ok() == Some(FileType::Dir);
    let paths = Paths {
        file: (!is_dir).then(|| path.clone()),
        file_why: why.clone(),
        file_var: if is_dir { None } else { var },
        dirs: if is_dir { vec![disp(&path)] } else { vec![] },
        dir_why: why.clone(),
        dir_var: if is_dir { var } else { None },
        store_lookup: false,
        still_searched_dir: None,
    };
    let s = openssl::resolve_paths(cx, Runtime::PythonRequests, &paths);
    merge(&mut store, s);
    if w.var_nonempty("SSL_CERT_FILE").is_some() || w.var_nonempty("SSL_CERT_DIR").is_some() {
        store.steps.push(Step {
            source: "SSL_CERT_FILE/SSL_CERT_DIR".into(),
            kind: StepKind::File,
            outcome: Outcome::Skipped,
            anchors: 0,
            reason: Some("requests ignores them (it passes its own bundle to OpenSSL)".into()),
        });
        if var.is_none() {
            store.findings.push(
                Finding::new(
                    "requests-ignores-ssl-cert-file",
                    Severity::Info,
                    "SSL_CERT_FILE/SSL_CERT_DIR are set, but requests does not read them: it uses certifi's bundle."
                        .to_string(),
                )
                .fix("set REQUESTS_CA_BUNDLE to the same bundle for Python requests")
                .runtimes(&rt),
            );
        }
    }
    if !is_dir {
        let broken = match file_step(&store, &path) {
            Some(s) if s.outcome == Outcome::Missing => Some(format!(
                "OSError: Could not find a suitable TLS CA certificate bundle, invalid path: {}",
                disp(&path)
            )),
            Some(s) if s.outcome != Outcome::Loaded || s.anchors == 0 => Some(
                "ssl.SSLError: [X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl found".to_string(),
            ),
            _ => None,
        };
        if let Some(e) = broken {
            store.anchors.clear();
            store.findings.push(
                Finding::new(
                    "requests-ca-bundle-unusable",
                    Severity::Error,
                    format!("every requests call fails before connecting: {e}"),
                )
                .fix(format!(
                    "point {} at a readable PEM bundle (e.g. {})",
                    var.unwrap_or("REQUESTS_CA_BUNDLE"),
                    cx.distro.system_bundle()
                ))
                .runtimes(&rt)
                .path(disp(&path)),
            );
            store.error = Some(e);
        }
    } else if w.file_type(&path).is_err() {
        store.error = Some(format!(
            "OSError: Could not find a suitable TLS CA certificate bundle, invalid path: {}",
            disp(&path)
        ));
    }
    store
}

// ---------------------------------------------------------------- curl

/// The curl tool's build-time CA file and path for this distribution.
pub fn curl_defaults(distro: Distro) -> (&'static str, Option<&'static str>) {
    match distro {
        Distro::Alpine => ("/etc/ssl/certs/ca-certificates.crt", None),
        Distro::Rhel => ("/etc/pki/tls/certs/ca-bundle.crt", None),
        _ => ("/etc/ssl/certs/ca-certificates.crt", Some("/etc/ssl/certs")),
    }
}

pub fn curl(cx: &Cx) -> TrustStore {
    let w = cx.world();
    let rt = [Runtime::Curl.code()];
    let (def_file, def_dir) = curl_defaults(cx.distro);
    // src/tool_operate.c: CURL_CA_BUNDLE, else SSL_CERT_DIR (capath) and SSL_CERT_FILE
    // (cacert); each replaces only its own libcurl default.
    let (file, file_why, file_var, dirs, dir_why, dir_var) = if let Some(b) = w.var_nonempty("CURL_CA_BUNDLE")
    {
        (
            b.to_string(),
            "set by CURL_CA_BUNDLE".to_string(),
            Some("CURL_CA_BUNDLE"),
            def_dir.map(|d| vec![d.to_string()]).unwrap_or_default(),
            "build-time CApath (CURL_CA_BUNDLE does not replace it)".to_string(),
            None,
        )
    } else {
        let (dirs, dir_why, dir_var) = match w.var_nonempty("SSL_CERT_DIR") {
            Some(d) => (
                d.split(':').map(str::to_string).collect(),
                "set by SSL_CERT_DIR".to_string(),
                Some("SSL_CERT_DIR"),
            ),
            None => (
                def_dir.map(|d| vec![d.to_string()]).unwrap_or_default(),
                "build-time CApath".to_string(),
                None,
            ),
        };
        let (file, file_why, file_var) = match w.var_nonempty("SSL_CERT_FILE") {
            Some(f) => (
                f.to_string(),
                "set by SSL_CERT_FILE".to_string(),
                Some("SSL_CERT_FILE"),
            ),
            None => (def_file.to_string(), "build-time CAfile".to_string(), None),
        };
        (file, file_why, file_var, dirs, dir_why, dir_var)
    };
    let paths = Paths {
        file: Some(PathBuf::from(&file)),
        file_why,
        file_var,
        dirs,
        dir_why,
        dir_var,
        store_lookup: false,
        still_searched_dir: None,
    };
    let mut store = openssl::resolve_paths(cx, Runtime::Curl, &paths);
    store.assumptions.push(format!(
        "the curl tool built with OpenSSL as {} builds it (CAfile {def_file}, CApath {}; `curl -v` prints both); \
         libcurl inside other programs uses only the build-time defaults (no CURL_CA_BUNDLE/SSL_CERT_*)",
        cx.distro.title(),
        def_dir.unwrap_or("none")
    ));
    // curl ≥ 7.68 verifies with X509_V_FLAG_PARTIAL_CHAIN: non-self-signed anchors work.
    store
        .findings
        .retain(|f| f.code != "openssl-not-self-signed-anchor");
    store.assumptions.push(
        "curl ≥ 7.68 sets X509_V_FLAG_PARTIAL_CHAIN: any certificate in its store is an anchor \
         (--ssl-no-partialchain turns that off)"
            .into(),
    );
    // X509_STORE_load_file must succeed, or curl stops: (77).
    let unusable = match file_step(&store, Path::new(&file)) {
        Some(s) => s.outcome != Outcome::Loaded || s.anchors == 0,
        None => true,
    };
    if unusable {
        let e = format!("curl: (77) error setting certificate file: {file}");
        store.anchors.clear();
        store.findings.push(
            Finding::new(
                "curl-ca-file-unusable",
                Severity::Error,
                format!(
                    "curl cannot load its CA file {file} (missing, unreadable, no PEM certificate, or a bad block), \
                     so every HTTPS request fails: {e}"
                ),
            )
            .fix(format!(
                "point {} at a readable PEM bundle (e.g. {}), or {}",
                paths.file_var.unwrap_or("CURL_CA_BUNDLE"),
                cx.distro.system_bundle(),
                cx.distro.install_ca()
            ))
            .runtimes(&rt)
            .path(file.clone()),
        );
        store.error = Some(e);
    }
    store
}
