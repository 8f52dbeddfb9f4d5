//! Shared helpers for the verify/limbo tests.
#![allow(dead_code)]

use std::sync::Arc;

use tlsdoctor::trust::{Runtime, TrustStore};
use tlsdoctor::x509::CertInfo;

/// A trust store made of exactly these certificates (as `--ca` would give).
/// The stores model this machine's runtimes (Debian 12: Go 1.19, OpenSSL 3.0), which the
/// tests compare against; other versions are pinned where a test is about them.
pub fn store(runtime: Runtime, certs: &[Arc<CertInfo>], source: &str) -> TrustStore {
    use tlsdoctor::profiles::{Kind, Profile, Source, Version};
    let mut s = tlsdoctor::trust::from_certs(runtime, certs.iter().map(|c| (**c).clone()).collect(), source);
    s.profile = match runtime {
        Runtime::Go => Some(Profile::of(Kind::Go, Version::new(1, 19, None), Source::Flag)),
        Runtime::Openssl => Some(Profile::of(Kind::Openssl, Version::new(3, 0, None), Source::Flag)),
        _ => None,
    };
    s
}
/// Decode a PEM string into certificates (panics on bad input: test data).
pub fn pem_certs(pem: &str) -> Vec<Arc<CertInfo>> {
    tlsdoctor::commands::inspect::decode_bundle(pem.as_bytes())
        .into_iter()
        .filter_map(|b| b.result.ok())
        .collect()
}

// ---------------------------------------------------------------- fixtures (rcgen)

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// The time every fixture is evaluated at: 2030-06-01T00:00:00Z, far from validity edges.
pub const AT: i64 = 1_906_502_400;
pub const AT_RFC3339: &str = "2030-06-01T00:00:00Z";

/// A certificate with its key.
pub struct Issued {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl Issued {
    pub fn pem(&self) -> String {
        self.cert.pem()
    }
    pub fn info(&self) -> Arc<CertInfo> {
        Arc::new(CertInfo::from_der(self.cert.der()).unwrap())
    }
}

/// How to make one certificate.
#[derive(Clone)]
pub struct Spec {
    pub cn: String,
    pub org: Option<String>,
    pub sans: Vec<String>,
    pub ca: Option<Option<u8>>,
    /// Not before / after as (y, m, d).
    pub from: (i32, u8, u8),
    pub to: (i32, u8, u8),
    pub eku: Vec<ExtendedKeyUsagePurpose>,
    pub ku: Vec<KeyUsagePurpose>,
    pub aia: Option<String>,
    pub permitted_dns: Vec<String>,
    /// Seconds to shift not_before by (for clock-skew fixtures).
    pub from_offset: i64,
}

impl Spec {
    pub fn leaf(cn: &str) -> Spec {
        Spec {
            cn: cn.into(),
            org: None,
            sans: vec![cn.into()],
            ca: None,
            from: (2030, 1, 1),
            to: (2031, 1, 1),
            eku: vec![ExtendedKeyUsagePurpose::ServerAuth],
            ku: vec![KeyUsagePurpose::DigitalSignature],
            aia: None,
            permitted_dns: vec![],
            from_offset: 0,
        }
    }
    pub fn ca(cn: &str) -> Spec {
        Spec {
            cn: cn.into(),
            org: None,
            sans: vec![],
            ca: Some(None),
            from: (2029, 1, 1),
            to: (2035, 1, 1),
            eku: vec![],
            ku: vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
            aia: None,
            permitted_dns: vec![],
            from_offset: 0,
        }
    }

    fn params(&self) -> CertificateParams {
        let mut p = CertificateParams::new(self.sans.clone()).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(o) = &self.org {
            p.distinguished_name.push(DnType::OrganizationName, o.clone());
        }
        p.distinguished_name.push(DnType::CommonName, self.cn.clone());
        p.is_ca = match self.ca {
            None => IsCa::ExplicitNoCa,
            Some(None) => IsCa::Ca(BasicConstraints::Unconstrained),
            Some(Some(n)) => IsCa::Ca(BasicConstraints::Constrained(n)),
        };
        p.not_before = rcgen::date_time_ymd(self.from.0, self.from.1, self.from.2)
            + time::Duration::seconds(self.from_offset);
        p.not_after = rcgen::date_time_ymd(self.to.0, self.to.1, self.to.2);
        p.extended_key_usages = self.eku.clone();
        p.key_usages = self.ku.clone();
        p.use_authority_key_identifier_extension = true;
        if let Some(url) = &self.aia {
            p.custom_extensions.push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 5, 5, 7, 1, 1],
                aia_der(url),
            ));
        }
        if !self.permitted_dns.is_empty() {
            p.name_constraints = Some(rcgen::NameConstraints {
                permitted_subtrees: self
                    .permitted_dns
                    .iter()
                    .map(|d| rcgen::GeneralSubtree::DnsName(d.clone()))
                    .collect(),
                excluded_subtrees: vec![],
            });
        }
        p
    }

    pub fn self_signed(&self) -> Issued {
        let key = KeyPair::generate().unwrap();
        let cert = self.params().self_signed(&key).unwrap();
        Issued { cert, key }
    }

    pub fn signed_by(&self, issuer: &Issued) -> Issued {
        let key = KeyPair::generate().unwrap();
        let cert = self.params().signed_by(&key, &issuer.cert, &issuer.key).unwrap();
        Issued { cert, key }
    }
}

fn der_len(n: usize) -> Vec<u8> {
    if n < 128 {
        vec![n as u8]
    } else if n < 256 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(der_len(body.len()));
    v.extend_from_slice(body);
    v
}

/// AuthorityInfoAccess with one caIssuers URL.
pub fn aia_der(url: &str) -> Vec<u8> {
    let oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut ad = oid.to_vec();
    ad.extend(tlv(0x86, url.as_bytes()));
    tlv(0x30, &tlv(0x30, &ad))
}

/// One scenario: what the server presents, what is trusted, the name.
pub struct Scenario {
    pub name: &'static str,
    /// Presented, leaf first.
    pub chain: Vec<String>,
    pub trusted: Vec<String>,
    pub host: String,
}

impl Scenario {
    pub fn chain_infos(&self) -> Vec<Arc<CertInfo>> {
        self.chain.iter().flat_map(|p| pem_certs(p)).collect()
    }
    pub fn trusted_infos(&self) -> Vec<Arc<CertInfo>> {
        self.trusted.iter().flat_map(|p| pem_certs(p)).collect()
    }
    /// Write chain.pem (all presented), leaf.pem, untrusted.pem, ca.pem into `dir`.
    pub fn write(&self, dir: &std::path::Path) {
        std::fs::write(dir.join("chain.pem"), self.chain.concat()).unwrap();
        std::fs::write(dir.join("leaf.pem"), &self.chain[0]).unwrap();
        std::fs::write(dir.join("untrusted.pem"), self.chain[1..].concat()).unwrap();
        std::fs::write(dir.join("ca.pem"), self.trusted.concat()).unwrap();
    }
}

/// Every fixture scenario, named for what it shows.
pub fn scenarios() -> Vec<Scenario> {
    let root = Spec::ca("Example Root CA").self_signed();
    let int = {
        let mut s = Spec::ca("Example Issuing CA");
        s.aia = Some("http://pki.example.test/root.crt".into());
        s.signed_by(&root)
    };
    let leaf_spec = {
        let mut s = Spec::leaf("db.example.test");
        s.aia = Some("http://pki.example.test/issuing.crt".into());
        s
    };
    let leaf = leaf_spec.signed_by(&int);
    let host = "db.example.test".to_string();
    let mut v = vec![];
    let sc = |name, chain: Vec<String>, trusted: Vec<String>, host: &str| Scenario {
        name,
        chain,
        trusted,
        host: host.to_string(),
    };
    v.push(sc("ok", vec![leaf.pem(), int.pem()], vec![root.pem()], &host));
    v.push(sc(
        "missing-intermediate",
        vec![leaf.pem()],
        vec![root.pem()],
        &host,
    ));
    v.push(sc(
        "wrong-name",
        vec![leaf.pem(), int.pem()],
        vec![root.pem()],
        "api.example.test",
    ));
    let expired = {
        let mut s = leaf_spec.clone();
        s.from = (2029, 1, 1);
        s.to = (2030, 1, 1);
        s.signed_by(&int)
    };
    v.push(sc(
        "expired",
        vec![expired.pem(), int.pem()],
        vec![root.pem()],
        &host,
    ));
    v.push(sc(
        "expired-and-wrong-name",
        vec![expired.pem(), int.pem()],
        vec![root.pem()],
        "api.example.test",
    ));
    let future = {
        let mut s = leaf_spec.clone();
        s.from = (2030, 6, 1);
        s.from_offset = 300;
        s.signed_by(&int)
    };
    v.push(sc(
        "not-yet-valid-clock-skew",
        vec![future.pem(), int.pem()],
        vec![root.pem()],
        &host,
    ));
    let other_root = Spec::ca("Other Root CA").self_signed();
    v.push(sc(
        "unknown-authority",
        vec![leaf.pem(), int.pem(), root.pem()],
        vec![other_root.pem()],
        &host,
    ));
    // The server sends its intermediate, but the root that issued it is in no store: the
    // top presented certificate is not self-signed, so a certificate is missing.
    v.push(sc(
        "intermediate-sent-root-in-no-store",
        vec![leaf.pem(), int.pem()],
        vec![other_root.pem()],
        &host,
    ));
    let selfsigned = {
        let mut s = Spec::leaf("db.example.test");
        s.ku = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign];
        s.self_signed()
    };
    v.push(sc("self-signed", vec![selfsigned.pem()], vec![root.pem()], &host));
    // `openssl req -x509` style: the self-signed server certificate is a CA (CA:TRUE).
    let selfsigned_ca = {
        let mut s = Spec::leaf("db.example.test");
        s.ca = Some(None);
        s.ku = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign];
        s.self_signed()
    };
    v.push(sc(
        "self-signed-ca-certificate",
        vec![selfsigned_ca.pem()],
        vec![root.pem()],
        &host,
    ));
    let not_ca_int = {
        let mut s = Spec::ca("Example Not-A-CA");
        s.ca = None;
        s.ku = vec![KeyUsagePurpose::DigitalSignature];
        s.signed_by(&root)
    };
    let leaf_under_not_ca = leaf_spec.signed_by(&not_ca_int);
    v.push(sc(
        "not-a-ca",
        vec![leaf_under_not_ca.pem(), not_ca_int.pem()],
        vec![root.pem()],
        &host,
    ));
    let client_only = {
        let mut s = leaf_spec.clone();
        s.eku = vec![ExtendedKeyUsagePurpose::ClientAuth];
        s.signed_by(&int)
    };
    v.push(sc(
        "bad-eku",
        vec![client_only.pem(), int.pem()],
        vec![root.pem()],
        &host,
    ));
    let cn_only = {
        let mut s = leaf_spec.clone();
        s.sans = vec![];
        s.signed_by(&int)
    };
    v.push(sc(
        "legacy-common-name",
        vec![cn_only.pem(), int.pem()],
        vec![root.pem()],
        &host,
    ));
    let strict_root = {
        let mut s = Spec::ca("Example Strict Root");
        s.ca = Some(Some(0));
        s.self_signed()
    };
    let int_under_strict = Spec::ca("Example Strict Issuing CA").signed_by(&strict_root);
    let leaf_deep = leaf_spec.signed_by(&int_under_strict);
    v.push(sc(
        "path-too-long",
        vec![leaf_deep.pem(), int_under_strict.pem()],
        vec![strict_root.pem()],
        &host,
    ));
    let nc_root = {
        let mut s = Spec::ca("Example Constrained Root");
        s.permitted_dns = vec!["corp.test".into()];
        s.self_signed()
    };
    let nc_leaf = leaf_spec.signed_by(&nc_root);
    v.push(sc(
        "name-constraints",
        vec![nc_leaf.pem()],
        vec![nc_root.pem()],
        &host,
    ));
    // Same issuer name, different key: the presented intermediate did not sign the leaf.
    let int_twin = Spec::ca("Example Issuing CA").signed_by(&root);
    v.push(sc(
        "bad-signature",
        vec![leaf.pem(), int_twin.pem()],
        vec![root.pem()],
        &host,
    ));
    // TLS inspection: a Zscaler-style chain; the root is not trusted, the proxy sends the leaf only.
    let z_root = {
        let mut s = Spec::ca("Zscaler Root CA");
        s.org = Some("Zscaler Inc.".into());
        s.self_signed()
    };
    let z_int = {
        let mut s = Spec::ca("Zscaler Intermediate Root CA (zscaler.net)");
        s.org = Some("Zscaler Inc.".into());
        s.signed_by(&z_root)
    };
    let z_leaf = Spec::leaf("db.example.test").signed_by(&z_int);
    v.push(sc(
        "missing-intermediate-and-intercept-root",
        vec![z_leaf.pem()],
        vec![root.pem()],
        &host,
    ));
    v.push(sc(
        "intercept-untrusted",
        vec![z_leaf.pem(), z_int.pem()],
        vec![root.pem()],
        &host,
    ));
    // The proxy also sends its root: a presented root that is not trusted.
    v.push(sc(
        "intercept-root-presented",
        vec![z_leaf.pem(), z_int.pem(), z_root.pem()],
        vec![root.pem()],
        &host,
    ));
    v.push(sc(
        "intercept-trusted",
        vec![z_leaf.pem(), z_int.pem()],
        vec![root.pem(), z_root.pem()],
        &host,
    ));
    let old_int = {
        let mut s = Spec::ca("Example Issuing CA");
        s.from = (2028, 1, 1);
        s.to = (2030, 3, 1);
        s.signed_by(&root)
    };
    // Same key name as `int` but a different key: sign a leaf with the expired one.
    let leaf_under_old = leaf_spec.signed_by(&old_int);
    v.push(sc(
        "expired-intermediate",
        vec![leaf_under_old.pem(), old_int.pem()],
        vec![root.pem()],
        &host,
    ));
    // Trust anchored at the intermediate only: Go accepts, OpenSSL (no partial chain) refuses.
    v.push(sc(
        "intermediate-as-anchor",
        vec![leaf.pem(), int.pem()],
        vec![int.pem()],
        &host,
    ));
    v.push(sc(
        "ip-address",
        vec![
            {
                let mut s = Spec::leaf("db.example.test");
                s.sans = vec!["db.example.test".into(), "10.0.0.5".into()];
                s.signed_by(&int).pem()
            },
            int.pem(),
        ],
        vec![root.pem()],
        "10.0.0.6",
    ));
    v
}

// ------------------------------------------------ OpenSSL TRUSTED CERTIFICATE blocks

/// DER of an extended key usage OID by short name.
pub fn eku_oid_der(name: &str) -> Vec<u8> {
    let body: &[u8] = match name {
        "serverAuth" => &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01],
        "clientAuth" => &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02],
        "anyExtendedKeyUsage" => &[0x55, 0x1d, 0x25, 0x00],
        other => panic!("unknown EKU {other}"),
    };
    tlv(0x06, body)
}

/// X509_CERT_AUX with these trust / reject lists (None = list absent).
pub fn aux_der(trust: Option<&[&str]>, reject: Option<&[&str]>) -> Vec<u8> {
    let list = |tag: u8, names: &[&str]| {
        tlv(
            tag,
            &names.iter().flat_map(|n| eku_oid_der(n)).collect::<Vec<u8>>(),
        )
    };
    let mut body = vec![];
    if let Some(t) = trust {
        body.extend(list(0x30, t));
    }
    if let Some(r) = reject {
        body.extend(list(0xa0, r));
    }
    tlv(0x30, &body)
}

/// A `TRUSTED CERTIFICATE` PEM block: the certificate DER followed by `aux` (may be empty).
pub fn trusted_pem(cert_pem: &str, aux: &[u8]) -> String {
    use base64::Engine;
    let mut der = pem_certs(cert_pem)[0].der.clone();
    der.extend_from_slice(aux);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let mut out = String::from("-----BEGIN TRUSTED CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str("-----END TRUSTED CERTIFICATE-----\n");
    out
}
