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

/// The product named in one distinguished name, if any.
pub fn product_for(dn: &str) -> Option<Product> {
    let l = dn.to_lowercase();
    PRODUCTS
        .iter()
        .find(|p| p.patterns.iter().any(|pat| l.contains(pat)))
        .copied()
}

/// The product that minted (or whose CA appears in) this chain, if recognised, with the
/// certificate index that names it.
pub fn detect(chain: &[std::sync::Arc<CertInfo>]) -> Option<(Product, usize)> {
    for (i, c) in chain.iter().enumerate() {
        for dn in [&c.issuer, &c.subject] {
            if let Some(p) = product_for(dn) {
                return Some((p, i));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::product_for;

    #[test]
    fn recognises_the_usual_products() {
        let cases = [
            (
                "CN=Zscaler Intermediate Root CA (zscaler.net), O=Zscaler Inc.",
                "Zscaler",
            ),
            ("CN=caadmin.netskope.com, O=Netskope Inc", "Netskope"),
            (
                "CN=PAN-OS Forward Trust CA, O=Palo Alto Networks",
                "Palo Alto Networks",
            ),
            ("CN=FortiGate CA, O=Fortinet", "Fortinet FortiGate"),
            ("CN=Blue Coat ProxySG CA", "Blue Coat / Symantec ProxySG"),
            (
                "CN=Cisco Umbrella Secondary SubCA ams-SG, O=Cisco",
                "Cisco Umbrella",
            ),
            ("CN=Sophos SSL CA_C1234, O=Sophos", "Sophos"),
            ("CN=Check Point Outbound Inspection CA", "Check Point"),
            ("CN=Forcepoint Cloud Proxy CA", "Forcepoint"),
            ("CN=McAfee Web Gateway", "McAfee / Skyhigh Web Gateway"),
            ("CN=Skyhigh Security Web Gateway", "McAfee / Skyhigh Web Gateway"),
            ("CN=Kaspersky Anti-Virus Personal Root Certificate", "Kaspersky"),
            ("CN=ESET SSL Filter CA, O=ESET, spol. s r. o.", "ESET"),
            ("CN=Avast Web/Mail Shield Root, O=Avast", "Avast / AVG"),
            ("CN=AVG Web/Mail Shield Root, O=AVG Technologies", "Avast / AVG"),
            ("CN=Bitdefender Personal CA.Net-Defender", "Bitdefender"),
            ("CN=mitmproxy, O=mitmproxy", "mitmproxy"),
            (
                "CN=Charles Proxy CA (1 Jan 2024, host), OU=https://charlesproxy.com/ssl, O=XK72 Ltd",
                "Charles Proxy",
            ),
            ("CN=DO_NOT_TRUST_FiddlerRoot, O=DO_NOT_TRUST", "Fiddler"),
            (
                "CN=PortSwigger CA, OU=PortSwigger CA, O=PortSwigger",
                "Burp Suite (PortSwigger)",
            ),
        ];
        for (dn, want) in cases {
            assert_eq!(product_for(dn).map(|p| p.name), Some(want), "{dn}");
        }
        for dn in [
            "CN=ISRG Root X1, O=Internet Security Research Group",
            "CN=DigiCert Global Root G2",
            "CN=db.example.com",
        ] {
            assert!(product_for(dn).is_none(), "{dn}");
        }
    }
}
