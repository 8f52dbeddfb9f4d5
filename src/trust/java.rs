//! Java (JSSE, `TrustStoreManager`): `-Djavax.net.ssl.trustStore` (here from
//! `JAVA_TOOL_OPTIONS` / `JDK_JAVA_OPTIONS`), else `$JAVA_HOME/lib/security/jssecacerts`,
//! then `$JAVA_HOME/lib/security/cacerts`: the first of those that is a readable file wins
//! (a configured trust store that is missing falls back to cacerts **silently**). PEM files
//! and `SSL_CERT_*` are ignored.

use std::path::{Path, PathBuf};

use crate::finding::{Finding, Severity};
use crate::world::{FileType, World};

use super::keystore;
use super::loader::disp;
use super::{Anchor, Cx, Outcome, Provenance, Runtime, Step, StepKind, TrustStore};

/// Candidate JAVA_HOMEs in the World: `JAVA_HOME`, else the JVMs under /usr/lib/jvm
/// (`default-java` first), each with a `lib/security` directory.
pub fn java_homes(world: &World) -> Vec<PathBuf> {
    if let Some(h) = world.var_nonempty("JAVA_HOME") {
        return vec![PathBuf::from(h)];
    }
    let mut v: Vec<PathBuf> = vec![];
    // The JVM `java` on PATH runs (Debian: /usr/bin/java -> /etc/alternatives/java -> …).
    if let Some(bin) = super::extra::which(world, "java") {
        if let Ok(real) = world.canonical(&bin) {
            if let Some(home) = real.parent().and_then(|b| b.parent()) {
                if world.file_type(&home.join("lib/security")).ok() == Some(FileType::Dir) {
                    v.push(home.to_path_buf());
                }
            }
        }
    }
    if let Ok(es) = world.read_dir(Path::new("/usr/lib/jvm")) {
        let mut names: Vec<String> = es.into_iter().map(|e| e.name).collect();
        names.sort_by_key(|n| (n != "default-java", n.clone()));
        for n in names {
            let h = Path::new("/usr/lib/jvm").join(n);
            if world.file_type(&h.join("lib/security")).ok() == Some(FileType::Dir) && !v.contains(&h) {
                v.push(h);
            }
        }
    }
    v
}

/// `-Dkey=value` from the JVM option variables; JDK_JAVA_OPTIONS (launcher command line)
/// wins over JAVA_TOOL_OPTIONS.
pub fn system_property(world: &World, key: &str) -> Option<(String, &'static str)> {
    let mut found = None;
    for var in ["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"] {
        if let Some(v) = world.var(var) {
            for tok in v.split_whitespace() {
                let tok = tok.trim_matches(['"', '\'']);
                if let Some(val) = tok
                    .strip_prefix("-D")
                    .and_then(|t| t.strip_prefix(key))
                    .and_then(|t| t.strip_prefix('='))
                {
                    found = Some((val.to_string(), var));
                }
            }
        }
    }
    found
}

pub fn resolve(cx: &Cx) -> TrustStore {
    let w = cx.world();
    let mut store = TrustStore::empty(Runtime::Java);
    let rt = [Runtime::Java.code()];
    let homes = java_homes(w);
    let home = homes.first().cloned();
    let security = home.as_ref().map(|h| h.join("lib/security"));
    match &home {
        Some(h) => store.assumptions.push(format!(
            "JAVA_HOME {} ({})",
            disp(h),
            if w.var_nonempty("JAVA_HOME").is_some() {
                "set by JAVA_HOME"
            } else {
                "the JVM of `java` on PATH, else the first under /usr/lib/jvm"
            }
        )),
        None => store.assumptions.push(
            "no JAVA_HOME and no JVM under /usr/lib/jvm: using the distribution's shared cacerts".into(),
        ),
    }
    let prop = system_property(w, "javax.net.ssl.trustStore");
    let password = system_property(w, "javax.net.ssl.trustStorePassword");
    let mut candidates: Vec<(PathBuf, String)> = vec![];
    match &prop {
        Some((p, _)) if p == "NONE" => {}
        Some((p, var)) => candidates.push((PathBuf::from(p), format!("-Djavax.net.ssl.trustStore in {var}"))),
        None => {
            if let Some(s) = &security {
                candidates.push((
                    s.join("jssecacerts"),
                    "$JAVA_HOME/lib/security/jssecacerts".into(),
                ));
            }
        }
    }
    match &security {
        Some(s) => candidates.push((s.join("cacerts"), "$JAVA_HOME/lib/security/cacerts".into())),
        None => {
            let shared = match cx.distro {
                super::distro::Distro::Rhel => "/etc/pki/java/cacerts",
                _ => "/etc/ssl/certs/java/cacerts",
            };
            candidates.push((
                PathBuf::from(shared),
                "the distribution's shared Java cacerts".into(),
            ));
        }
    }
    if matches!(&prop, Some((p, _)) if p == "NONE") {
        store.steps.push(Step {
            source: "javax.net.ssl.trustStore=NONE".into(),
            kind: StepKind::File,
            outcome: Outcome::Skipped,
            anchors: 0,
            reason: Some("NONE: a PKCS#11 token store, not a file; not emulated".into()),
        });
    }
    let mut chosen = false;
    for (i, (p, why)) in candidates.iter().enumerate() {
        let name = disp(p);
        if chosen {
            store.steps.push(Step {
                source: name,
                kind: StepKind::File,
                outcome: Outcome::Skipped,
                anchors: 0,
                reason: Some(format!("an earlier trust store was readable; {why}")),
            });
            continue;
        }
        let data = match w.file_type(p) {
            Ok(FileType::File) => w.read_capped(p, 64 << 20),
            Ok(_) => Err(std::io::Error::other("not a regular file")),
            Err(e) => Err(e),
        };
        let data = match data {
            Ok(d) => d,
            Err(e) => {
                let missing = e.kind() == std::io::ErrorKind::NotFound;
                store.steps.push(Step {
                    source: name.clone(),
                    kind: StepKind::File,
                    outcome: if missing { Outcome::Missing } else { Outcome::Error },
                    anchors: 0,
                    reason: Some(if missing {
                        why.clone()
                    } else {
                        format!("{}; {why}", crate::world::describe_io(&e))
                    }),
                });
                if i == 0 && prop.is_some() && candidates.len() > 1 {
                    store.findings.push(
                        Finding::new(
                            "java-truststore-unreadable",
                            Severity::Error,
                            format!(
                                "-Djavax.net.ssl.trustStore={name} cannot be read ({}): Java silently falls back to \
                                 cacerts, so the CAs in that file are not trusted.",
                                if missing { "no such file".to_string() } else { crate::world::describe_io(&e) }
                            ),
                        )
                        .fix("fix the path (it is resolved by the JVM process, relative to its working directory if not absolute)")
                        .runtimes(&rt)
                        .path(name),
                    );
                }
                continue;
            }
        };
        chosen = true;
        match keystore::parse(&data, password.as_ref().map(|(p, _)| p.as_str())) {
            Ok(ks) => {
                let mut n = 0;
                let mut seen = std::collections::HashSet::new();
                for (k, e) in ks.entries.iter().enumerate() {
                    let Ok(cert) = cx.loader.cert(&e.der) else {
                        continue;
                    };
                    n += 1;
                    if seen.insert(cert.sha256.clone()) {
                        store.anchors.push(Anchor {
                            cert,
                            provenance: Provenance {
                                path: format!("{name}#{}", e.alias),
                                resolved: None,
                                block: Some(k),
                                line: None,
                            },
                            hash_name: None,
                            trusted_cert_block: false,
                            aux_trust: None,
                        });
                    }
                }
                let mut notes = vec![format!("{} store; {why}", ks.kind.name())];
                let bad_password = matches!(
                    ks.decrypt_error.as_deref(),
                    Some(
                        "keystore password was incorrect"
                            | "Keystore was tampered with, or password was incorrect"
                    )
                );
                if bad_password {
                    let e = ks.decrypt_error.clone().unwrap_or_default();
                    store.error = Some(format!(
                        "java.security.KeyManagementException: problem accessing trust store (caused by java.io.IOException: {e})"
                    ));
                    store.findings.push(
                        Finding::new(
                            "java-truststore-password",
                            Severity::Error,
                            format!(
                                "javax.net.ssl.trustStorePassword does not open {name} ({e}): Java cannot create its \
                                 default SSLContext, so every TLS connection fails."
                            ),
                        )
                        .fix("set the store's real password in -Djavax.net.ssl.trustStorePassword (or remove it: trusted \
                              certificates of JKS and unencrypted PKCS#12 stores need no password)")
                        .runtimes(&rt)
                        .path(name.clone()),
                    );
                }
                if bad_password {
                    store.anchors.clear();
                    n = 0;
                }
                if ks.decrypted_parts > 0 {
                    notes.push(format!(
                        "{} encrypted part(s) decrypted with javax.net.ssl.trustStorePassword",
                        ks.decrypted_parts
                    ));
                }
                if ks.kdf_budget_parts > 0 {
                    notes.push(format!(
                        "{} encrypted part(s) not decrypted: the store's key derivations would pass {} PBKDF2 \
                         iterations in total",
                        ks.kdf_budget_parts,
                        keystore::KDF_BUDGET
                    ));
                    store.findings.push(
                        Finding::new(
                            "java-truststore-kdf-budget",
                            Severity::Warning,
                            format!(
                                "{name}: {} of its encrypted PKCS#12 parts were not decrypted, because deriving their \
                                 keys would cost more than {} PBKDF2 iterations in total (keytool uses 10,000 per \
                                 part); the certificates in them are not shown. Java may still read them, slowly: \
                                 every JVM start pays the same cost.",
                                ks.kdf_budget_parts,
                                keystore::KDF_BUDGET
                            ),
                        )
                        .fix("rewrite the store with keytool's defaults (keytool -importkeystore -srckeystore OLD \
                              -destkeystore NEW -deststoretype PKCS12), or without certificate encryption: keytool \
                              -J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE -J-Dkeystore.pkcs12.macAlgorithm=NONE")
                        .runtimes(&rt)
                        .path(name.clone()),
                    );
                }
                let budget_only = ks.kdf_budget_parts == ks.encrypted_parts;
                if ks.encrypted_parts > 0 && !bad_password && !budget_only {
                    let wrong = bad_password;
                    notes.push(format!(
                        "{} encrypted part(s) {}",
                        ks.encrypted_parts,
                        match (&password, &ks.decrypt_error) {
                            (None, _) =>
                                "skipped, as Java skips them without javax.net.ssl.trustStorePassword"
                                    .to_string(),
                            (Some(_), Some(e)) => format!("not read: {e}"),
                            (Some(_), None) => "not read".to_string(),
                        }
                    ));
                    store.findings.push(
                        Finding::new(
                            "java-truststore-encrypted",
                            if n == 0 || wrong { Severity::Error } else { Severity::Warning },
                            match (&password, &ks.decrypt_error) {
                                (None, _) => format!(
                                    "{name} is a PKCS#12 store whose certificates are encrypted: without \
                                     javax.net.ssl.trustStorePassword Java cannot read them."
                                ),
                                (Some(_), Some(e)) if wrong => format!(
                                    "{name}: javax.net.ssl.trustStorePassword does not decrypt it ({e}): Java fails to load the trust store."
                                ),
                                (Some(_), e) => format!(
                                    "{name}: tlsdoctor could not decrypt its certificates ({}); Java may still read them.",
                                    e.clone().unwrap_or_default()
                                ),
                            },
                        )
                        .fix("pass the right -Djavax.net.ssl.trustStorePassword=… (keytool's usual default is \"changeit\"), or \
                              write the store without certificate encryption: keytool \
                              -J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE -J-Dkeystore.pkcs12.macAlgorithm=NONE")
                        .runtimes(&rt)
                        .path(name.clone()),
                    );
                }
                if ks.ignored_certs > 0 {
                    notes.push(format!(
                        "{} certificate(s) without Java's trusted attribute ignored",
                        ks.ignored_certs
                    ));
                    store.findings.push(
                        Finding::new(
                            "java-pkcs12-not-trusted-entries",
                            Severity::Warning,
                            format!(
                                "{name} holds {} certificate(s) without Java's trustedKeyUsage attribute (e.g. made by \
                                 `openssl pkcs12 -export -nokeys`): Java does not treat them as trusted entries.",
                                ks.ignored_certs
                            ),
                        )
                        .fix(format!("import them with keytool: keytool -importcert -noprompt -keystore {name} -alias myca -file ca.pem (OpenSSL 3.2+: `openssl pkcs12 -export -jdktrust anyExtendedKeyUsage`)"))
                        .runtimes(&rt)
                        .path(name.clone()),
                    );
                }
                store.steps.push(Step {
                    source: name.clone(),
                    kind: StepKind::File,
                    outcome: Outcome::Loaded,
                    anchors: n,
                    reason: Some(notes.join("; ")),
                });
            }
            Err(e) => {
                store.steps.push(Step {
                    source: name.clone(),
                    kind: StepKind::File,
                    outcome: Outcome::Error,
                    anchors: 0,
                    reason: Some(format!("{e}; {why}")),
                });
                store.error = Some(format!("java.io.IOException: Invalid keystore format ({name})"));
                store.findings.push(
                    Finding::new(
                        "java-truststore-invalid",
                        Severity::Error,
                        format!("{name} is not a key store Java can read ({e}); a PEM bundle must be imported with keytool."),
                    )
                    .fix(format!("keytool -importcert -noprompt -keystore truststore.p12 -storetype pkcs12 -storepass changeit -alias myca -file ca.pem, then -Djavax.net.ssl.trustStore=truststore.p12 (was {name})"))
                    .runtimes(&rt)
                    .path(name.clone()),
                );
            }
        }
    }
    if store.anchors.is_empty() && store.error.is_none() {
        store.error = Some(
            "javax.net.ssl.SSLException: Unexpected error: java.security.InvalidAlgorithmParameterException: the trustAnchors parameter must be non-empty"
                .into(),
        );
    }
    store
}
