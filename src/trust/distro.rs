//! Which distribution lives in the World, and how CA certificates are installed there:
//! the fixes in findings are worded for it.

use std::path::Path;

use serde::Serialize;

use crate::world::World;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distro {
    /// Debian, Ubuntu and derivatives (`update-ca-certificates`, `.crt` only).
    Debian,
    /// Alpine (`update-ca-certificates` from the ca-certificates package).
    Alpine,
    /// RHEL, Fedora, CentOS, Rocky, Alma, Amazon Linux (`update-ca-trust`).
    Rhel,
    /// Google distroless: a bundle but no tools.
    Distroless,
    /// An (almost) empty image: no CA store at all.
    Scratch,
    Unknown,
}

impl Distro {
    pub fn code(self) -> &'static str {
        match self {
            Distro::Debian => "debian",
            Distro::Alpine => "alpine",
            Distro::Rhel => "rhel",
            Distro::Distroless => "distroless",
            Distro::Scratch => "scratch",
            Distro::Unknown => "unknown",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Distro::Debian => "Debian/Ubuntu",
            Distro::Alpine => "Alpine",
            Distro::Rhel => "RHEL/Fedora",
            Distro::Distroless => "distroless",
            Distro::Scratch => "scratch (empty image)",
            Distro::Unknown => "unknown distribution",
        }
    }

    /// The system CA bundle's path on this distribution.
    pub fn system_bundle(self) -> &'static str {
        match self {
            Distro::Rhel => "/etc/pki/tls/certs/ca-bundle.crt",
            _ => "/etc/ssl/certs/ca-certificates.crt",
        }
    }

    /// How to get a current system bundle (new roots, expired ones removed).
    pub fn upgrade_bundle(self) -> &'static str {
        match self {
            Distro::Debian => "`apt-get update && apt-get install --only-upgrade ca-certificates`",
            Distro::Alpine => "`apk upgrade ca-certificates`",
            Distro::Rhel => "`dnf update ca-certificates` (or yum)",
            Distro::Distroless | Distro::Scratch => "rebuild the image from a current base image",
            Distro::Unknown => "upgrade the distribution's ca-certificates package",
        }
    }

    /// How to add a CA to the system store here.
    pub fn install_ca(self) -> &'static str {
        match self {
            Distro::Debian => {
                "copy the CA as a .crt file (PEM) into /usr/local/share/ca-certificates/ and run \
                 `update-ca-certificates` as root (in a Dockerfile: `RUN update-ca-certificates`)"
            }
            Distro::Alpine => {
                "`apk add ca-certificates`, copy the CA into /usr/local/share/ca-certificates/ and run \
                 `update-ca-certificates`"
            }
            Distro::Rhel => {
                "copy the CA into /etc/pki/ca-trust/source/anchors/ and run `update-ca-trust extract` \
                 as root"
            }
            Distro::Distroless => {
                "distroless has no update tool: build the bundle in a builder stage (append the CA to \
                 /etc/ssl/certs/ca-certificates.crt) and COPY it over, or mount a bundle and set \
                 SSL_CERT_FILE to it"
            }
            Distro::Scratch => {
                "a scratch image has no CA store: `COPY --from=<builder> \
                 /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/` (add your CA to it first)"
            }
            Distro::Unknown => {
                "add the CA to the system bundle with the distribution's tool \
                 (update-ca-certificates / update-ca-trust), or point SSL_CERT_FILE at a bundle \
                 that contains it"
            }
        }
    }

    /// How to (re)create the bundle and hash links from the staging area.
    pub fn refresh(self) -> &'static str {
        match self {
            Distro::Debian | Distro::Alpine => {
                "run `update-ca-certificates` as root (it needs a writable /etc/ssl/certs: do it at \
                 image build time, not in a read-only or non-root container)"
            }
            Distro::Rhel => "run `update-ca-trust extract` as root (at image build time)",
            Distro::Distroless | Distro::Scratch => {
                "this image has no update tool: build the bundle in a builder stage and COPY it"
            }
            Distro::Unknown => {
                "run the distribution's CA update tool (update-ca-certificates / update-ca-trust)"
            }
        }
    }

    /// How to make OpenSSL find certificates in a directory.
    pub fn rehash(self, dir: &str) -> String {
        match self {
            // update-ca-certificates rehashes /etc/ssl/certs only (Debian's
            // /usr/lib/ssl/certs is a link to it): for another directory it does nothing.
            Distro::Debian | Distro::Alpine if matches!(dir, "/etc/ssl/certs" | "/usr/lib/ssl/certs") => {
                format!(
                    "run `update-ca-certificates` (it rehashes /etc/ssl/certs), or `openssl rehash {dir}`"
                )
            }
            Distro::Debian | Distro::Alpine => {
                format!("run `openssl rehash {dir}` (it needs a writable directory)")
            }
            _ => {
                format!("run `openssl rehash {dir}` (or `c_rehash {dir}`), which needs a writable directory")
            }
        }
    }
}

/// Detect the distribution from the World's files.
pub fn detect(world: &World) -> Distro {
    if let Ok(data) = world.read_capped(Path::new("/etc/os-release"), 64 * 1024) {
        let text = String::from_utf8_lossy(&data);
        let get = |key: &str| -> String {
            text.lines()
                .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
                .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_ascii_lowercase())
                .unwrap_or_default()
        };
        let pretty = get("PRETTY_NAME");
        if pretty.contains("distroless") || get("HOME_URL").contains("distroless") {
            return Distro::Distroless;
        }
        let ids = format!("{} {}", get("ID"), get("ID_LIKE"));
        let has = |w: &str| ids.split_whitespace().any(|x| x == w);
        if has("alpine") {
            return Distro::Alpine;
        }
        if has("debian") || has("ubuntu") {
            return Distro::Debian;
        }
        if ["rhel", "fedora", "centos", "rocky", "almalinux", "amzn", "ol"]
            .iter()
            .any(|x| has(x))
        {
            return Distro::Rhel;
        }
    }
    let exists = |p: &str| world.exists(Path::new(p));
    if exists("/etc/alpine-release") {
        return Distro::Alpine;
    }
    if exists("/etc/debian_version") {
        return Distro::Debian;
    }
    if exists("/etc/redhat-release") || exists("/etc/pki/ca-trust") {
        return Distro::Rhel;
    }
    let has_shell = exists("/bin/sh") || exists("/usr/bin/sh");
    if !has_shell && exists("/etc/ssl/certs/ca-certificates.crt") {
        return Distro::Distroless;
    }
    if !has_shell && !exists("/etc/ssl") && !exists("/etc/pki") {
        return Distro::Scratch;
    }
    Distro::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn world_with(files: &[(&str, &str)]) -> (tempfile::TempDir, World) {
        let d = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let p = d.path().join(p.trim_start_matches('/'));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, c).unwrap();
        }
        let w = World::fixture(d.path(), &[]);
        (d, w)
    }

    #[test]
    fn detects_from_os_release_and_markers() {
        let (_d, w) = world_with(&[("/etc/os-release", "ID=ubuntu\nID_LIKE=debian\n")]);
        assert_eq!(detect(&w), Distro::Debian);
        let (_d, w) = world_with(&[(
            "/etc/os-release",
            "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n",
        )]);
        assert_eq!(detect(&w), Distro::Rhel);
        let (_d, w) = world_with(&[("/etc/os-release", "ID=alpine\n")]);
        assert_eq!(detect(&w), Distro::Alpine);
        let (_d, w) = world_with(&[("/etc/os-release", "PRETTY_NAME=\"Distroless\"\nID=debian\n")]);
        assert_eq!(detect(&w), Distro::Distroless);
        let (_d, w) = world_with(&[("/etc/ssl/certs/ca-certificates.crt", "")]);
        assert_eq!(detect(&w), Distro::Distroless);
        let (_d, w) = world_with(&[("/app", "")]);
        assert_eq!(detect(&w), Distro::Scratch);
        assert_eq!(Distro::Rhel.code(), "rhel");
    }
}
