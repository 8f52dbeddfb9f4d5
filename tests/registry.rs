//! Every runtime in the registry (src/runtimes/) is wired everywhere: `store`, `verify`,
//! `connect`, `check`, presence detection, shell completions and the man page — and each
//! speaks in its own words (no runtime falls through to another's message).

#[path = "common/runtimes.rs"]
mod rt_common;
#[path = "common/store.rs"]
mod store_common;

use rt_common::{need, pki, put, Server, AT};
use store_common::tlsdoctor;
use tlsdoctor::report::json::Document;
use tlsdoctor::report::store::StoreDoc;
use tlsdoctor::runtimes::{Engine, Tier, REGISTRY};

fn ok_json(args: &[&str]) -> (i32, String) {
    let (code, out, err) = tlsdoctor(args, &[]);
    assert!(code == 0 || code == 1, "{args:?}: {out}{err}");
    (code, out)
}

#[test]
fn every_runtime_is_in_store_with_its_title() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    for u in REGISTRY {
        let (_, out) = ok_json(&["--root", &root, "store", "--json", "--runtime", u.id]);
        let doc: StoreDoc = serde_json::from_str(&out).unwrap();
        assert_eq!(doc.runtimes.len(), 1, "{}", u.id);
        assert_eq!(doc.runtimes[0].runtime, u.id);
        assert_eq!(doc.runtimes[0].title, u.title);
    }
    // Every variable of every runtime's table reaches the store document.
    let mut args = vec!["--root".to_string(), root.clone()];
    for u in REGISTRY {
        for v in u.env {
            args.push("--env".into());
            args.push(format!("{}=/x/{}", v.name, v.name));
        }
    }
    args.extend(["store", "--json"].map(String::from));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, out) = ok_json(&a);
    let doc: StoreDoc = serde_json::from_str(&out).unwrap();
    for u in REGISTRY {
        for v in u.env {
            assert!(
                doc.world.env.contains_key(v.name),
                "{} ({}) not in world.env",
                v.name,
                u.id
            );
        }
    }
}

#[test]
fn every_extra_runtime_is_found_present_by_its_own_signs() {
    for u in REGISTRY.iter().filter(|u| u.tier == Tier::Extra) {
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(String, String)> = vec![("PATH".into(), "/bin".into())];
        if let Some(v) = u.env.iter().find(|v| v.presence) {
            env.push((v.name.into(), "/nowhere".into()));
        } else if let Some(b) = u.binaries.first() {
            put(dir.path(), &format!("bin/{b}"), "#!/bin/sh\n");
        } else {
            continue;
        }
        let w = tlsdoctor::world::World::with_root(dir.path().to_path_buf(), env.into_iter().collect());
        assert!(
            tlsdoctor::trust::relevant_runtimes(&w).contains(&u.runtime),
            "{} not found present",
            u.id
        );
        let empty = tlsdoctor::world::World::with_root(dir.path().join("none"), Default::default());
        assert!(
            !tlsdoctor::trust::relevant_runtimes(&empty).contains(&u.runtime),
            "{}",
            u.id
        );
    }
}

#[test]
fn every_runtime_verifies_in_its_own_words() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let chain = put(
        dir.path(),
        "chain.pem",
        format!("{}{}", p.leaf.pem(), p.int.pem()),
    );
    let root = put(dir.path(), "root.pem", p.root.pem());
    let other = put(dir.path(), "other.pem", rt_common::pki_named("Other").root.pem());
    let mut failures: Vec<(&str, String)> = vec![];
    for u in REGISTRY {
        for (ca, want) in [(&root, true), (&other, false)] {
            let (code, out) = ok_json(&[
                "verify",
                &chain.display().to_string(),
                "--name",
                "good.test",
                "--ca",
                &ca.display().to_string(),
                "--runtime",
                u.id,
                "--at",
                AT,
                "--json",
            ]);
            let doc: Document = serde_json::from_str(&out).unwrap();
            assert_eq!(doc.verdicts.len(), 1, "{}", u.id);
            let v = &doc.verdicts[0];
            assert_eq!(v.runtime, u.id);
            assert_eq!(v.trusted, want, "{}: {}", u.id, v.message);
            assert_eq!(code == 0, want);
            if !want {
                assert!(!v.message.is_empty(), "{} has no message", u.id);
                failures.push((u.id, v.message.clone()));
            }
        }
    }
    // Two runtimes say the same words only when they share a non-application engine
    // (rustls-native and webpki-roots are both rustls-webpki).
    for (i, (a, ma)) in failures.iter().enumerate() {
        for (b, mb) in &failures[i + 1..] {
            let same_engine = |x: &str, y: &str| {
                let (ux, uy) = (
                    REGISTRY.iter().find(|u| u.id == x).unwrap(),
                    REGISTRY.iter().find(|u| u.id == y).unwrap(),
                );
                // A database client that reports its engine's error verbatim (a Go driver
                // returning crypto/tls's error) says the engine's words.
                let verbatim =
                    |u: &tlsdoctor::runtimes::Unit| u.client.is_some_and(|c| (c.words)("x") == "x");
                matches!((ux.engine, uy.engine), (Engine::Webpki, Engine::Webpki))
                    || (matches!((ux.engine, uy.engine), (Engine::GoX509, Engine::GoX509))
                        && (verbatim(ux) || verbatim(uy)))
            };
            if !same_engine(a, b) {
                assert_ne!(ma, mb, "{a} and {b} say the same words");
            }
        }
    }
}

#[test]
fn every_runtime_connects_and_checks() {
    if !need("openssl", "version") {
        return;
    }
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let root = put(dir.path(), "root.pem", p.root.pem());
    let s = Server::start(&p.leaf, &[&p.int]);
    let target = format!("127.0.0.1:{}", s.port);
    for u in REGISTRY {
        let (code, out) = ok_json(&[
            "connect",
            &target,
            "--name",
            "good.test",
            "--ca",
            &root.display().to_string(),
            "--runtime",
            u.id,
            "--json",
        ]);
        let doc: Document = serde_json::from_str(&out).unwrap();
        assert_eq!(doc.verdicts.len(), 1, "{}: {out}", u.id);
        assert_eq!(doc.verdicts[0].runtime, u.id);
        assert!(doc.verdicts[0].trusted, "{}: {}", u.id, doc.verdicts[0].message);
        assert_eq!(code, 0);
    }
    let ids: Vec<String> = REGISTRY.iter().map(|u| format!("{:?}", u.id)).collect();
    let spec = put(
        dir.path(),
        "spec.toml",
        format!(
            "[[target]]\ntarget = \"{target}\"\nname = \"good.test\"\nca = \"root.pem\"\nruntimes = [{}]\ntrusted_by = [{}]\n",
            ids.join(", "),
            ids.join(", ")
        ),
    );
    let (code, out, err) = tlsdoctor(&["check", &spec.display().to_string(), "--format", "json"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    for u in REGISTRY {
        assert!(
            out.contains(&format!("\"runtime\": \"{}\"", u.id)),
            "check lacks {}: {out}",
            u.id
        );
    }
}

#[test]
fn every_runtime_is_in_completions_and_the_man_page() {
    let (code, bash, _) = tlsdoctor(&["completions", "bash"], &[]);
    assert_eq!(code, 0);
    let (code, man, _) = tlsdoctor(&["manpage"], &[]);
    assert_eq!(code, 0);
    let env = &man[man.find(".SH ENVIRONMENT").expect("ENVIRONMENT")..];
    for u in REGISTRY {
        assert!(bash.contains(u.id), "bash completions lack {}", u.id);
        // As a possible value of --runtime (roff escapes the hyphen).
        let roff = format!("{}: {}", u.id.replace('-', "\\-"), u.title.replace('-', "\\-"));
        assert!(man.contains(&roff), "man page lacks {roff}");
        for v in u.env {
            assert!(env.contains(v.name), "ENVIRONMENT lacks {} ({})", v.name, u.id);
        }
        if !u.env.is_empty() {
            assert!(
                env.contains(&u.title.replace('-', "\\-")) || env.contains(u.title),
                "ENVIRONMENT does not name {}",
                u.title
            );
        }
    }
}

#[test]
fn database_clients_judge_their_own_protocols_only() {
    use tlsdoctor::runtimes::{clients_of, Runtime};
    // Every client's protocol selects it, with Go and OpenSSL; other protocols select none.
    for u in REGISTRY {
        let Some(c) = u.client else { continue };
        assert!(!c.protocols.is_empty(), "{} speaks no protocol", u.id);
        for p in c.protocols {
            let v = clients_of(p).unwrap();
            assert!(v.contains(&u.runtime) && v.contains(&Runtime::Go) && v.contains(&Runtime::Openssl));
            assert!(v
                .iter()
                .all(|r| r.unit().client.is_some() || matches!(r, Runtime::Go | Runtime::Openssl)));
        }
    }
    assert!(clients_of("smtp").is_none());
    // Present in the World (psql on PATH) but not asked about an HTTPS server by default.
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "bin/psql", "#!/bin/sh\n");
    let w = tlsdoctor::world::World::with_root(
        dir.path().to_path_buf(),
        [("PATH".to_string(), "/bin".to_string())].into_iter().collect(),
    );
    assert!(tlsdoctor::trust::relevant_runtimes(&w).contains(&Runtime::Libpq));
    assert!(!tlsdoctor::trust::default_runtimes(&w).contains(&Runtime::Libpq));
}

#[test]
fn the_version_rules_table_in_the_docs_is_the_rows() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/TRUST-RULES.md")).unwrap();
    let table = tlsdoctor::runtimes::version_rules_table();
    assert!(
        table.lines().count() > 2,
        "no version rows in the registry's database clients"
    );
    assert!(
        doc.contains(&table),
        "docs/TRUST-RULES.md must hold the version rules table exactly as the rows say:\n{table}"
    );
}
