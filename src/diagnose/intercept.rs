//! TLS-inspection products, recognised by the names they put in the certificates they mint.

use crate::x509::CertInfo;

/// A known TLS-inspecting product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    pub name: &'static str,
    /// Lower-case substrings of a subject or issuer DN that identify it.
    pub patterns: &'static [&'static str],
}

/// Known products (matched case-insensitively against issuer and subject names).
pub const PRODUCTS: &[Product] = &[
    Product {
        name: "Zscaler",
        patterns: &["zscaler"],
    },
    Product {
        name: "Netskope",
        patterns: &["netskope"],
    },
    Product {
        name: "Palo Alto Networks",
        patterns: &["palo alto networks", "paloaltonetworks", "pan-os"],
    },
    Product {
        name: "Fortinet FortiGate",
        patterns: &["fortinet", "fortigate", "fortiproxy"],
    },
    Product {
        name: "Blue Coat / Symantec ProxySG",
        patterns: &["blue coat", "bluecoat", "proxysg", "symantec web security"],
    },
    Product {
        name: "Cisco Umbrella",
        patterns: &["cisco umbrella", "opendns"],
    },
    Product {
        name: "Sophos",
        patterns: &["sophos"],
    },
    Product {
        name: "Check Point",
        patterns: &["check point", "checkpoint"],
    },
    Product {
        name: "Forcepoint",
        patterns: &["forcepoint", "websense"],
    },
    Product {
        name: "McAfee / Skyhigh Web Gateway",
        patterns: &["mcafee", "skyhigh"],
    },
    Product {
        name: "Kaspersky",
        patterns: &["kaspersky"],
    },
    Product {
        name: "ESET",
        patterns: &["eset ssl filter", "eset, spol", "o=eset"],
    },
    Product {
        name: "Avast / AVG",
        patterns: &["avast", "avg technologies", "avg web/mail shield"],
    },
    Product {
        name: "Bitdefender",
        patterns: &["bitdefender"],
    },
    Product {
        name: "mitmproxy",
        patterns: &["mitmproxy"],
    },
    Product {
        name: "Charles Proxy",
        patterns: &["charles proxy", "xk72"],
    },
    Product {
        name: "Fiddler",
        patterns: &["do_not_trust_fiddlerroot", "fiddler"],
    },
    Product {
        name: "Burp Suite (PortSwigger)",
        patterns: &["portswigger", "burp suite"],
    },
    Product {
        name: "Cloudflare Gateway (WARP)",
        patterns: &[
            "cloudflare for teams",
            "gateway ca - cloudflare",
            "cloudflare zero trust",
        ],
    },
    Product {
        name: "Microsoft Defender / Entra Internet Access",
        patterns: &["microsoft entra internet access"],
    },
    Product {
        name: "iboss",
        patterns: &["iboss"],
    },
    Product {
        name: "Cato Networks",
        patterns: &["cato networks"],
    },
    Product {
        name: "Squid ssl-bump",
        patterns: &["squid"],
    },
];

/// The product that minted (or whose CA appears in) this chain, if recognised, with the
/// certificate index that names it.
pub fn detect(chain: &[std::sync::Arc<CertInfo>]) -> Option<(Product, usize)> {
    for (i, c) in chain.iter().enumerate() {
        for dn in [&c.issuer, &c.subject] {
            let l = dn.to_lowercase();
            for p in PRODUCTS {
                if p.patterns.iter().any(|pat| l.contains(pat)) {
                    return Some((*p, i));
                }
            }
        }
    }
    None
}
