//! Generate a Debian-like root filesystem whose system bundle holds N distinct CA
//! certificates, for `scripts/bench-store`:
//!
//!     cargo run --release --example gen_store_fixture -- 10000 /tmp/tlsdoctor-bench/10000
//!
//! Layout: /etc/os-release (Debian), /etc/ssl/certs/ca-certificates.crt (N certificates),
//! /usr/lib/ssl/cert.pem and /usr/lib/ssl/certs linked to it as on Debian. Deterministic
//! names (`Bench Root 00042`); one key signs them all (generation speed, not realism).

use std::os::unix::fs::symlink;
use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("usage: gen_store_fixture N OUT_DIR");
    let out = PathBuf::from(args.next().expect("usage: gen_store_fixture N OUT_DIR"));
    let certs = out.join("etc/ssl/certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::create_dir_all(out.join("usr/lib/ssl")).unwrap();
    std::fs::write(out.join("etc/os-release"), "ID=debian\n").unwrap();
    let key = KeyPair::generate().unwrap();
    let mut bundle = String::with_capacity(n * 700);
    for i in 0..n {
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "tlsdoctor bench");
        dn.push(DnType::CommonName, format!("Bench Root {i:05}"));
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.not_before = time::macros::datetime!(2020-01-01 0:00 UTC);
        p.not_after = time::macros::datetime!(2099-01-01 0:00 UTC);
        bundle.push_str(&p.self_signed(&key).unwrap().pem());
    }
    std::fs::write(certs.join("ca-certificates.crt"), bundle).unwrap();
    let _ = std::fs::remove_file(out.join("usr/lib/ssl/cert.pem"));
    let _ = std::fs::remove_file(out.join("usr/lib/ssl/certs"));
    symlink(
        "/etc/ssl/certs/ca-certificates.crt",
        out.join("usr/lib/ssl/cert.pem"),
    )
    .unwrap();
    symlink("/etc/ssl/certs", out.join("usr/lib/ssl/certs")).unwrap();
    eprintln!("wrote {n} certificates under {}", out.display());
}
