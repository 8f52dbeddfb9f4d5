//! The release (`scripts/build-release`): the static binary with its checksum, and the
//! image built by `scripts/build-image` without a daemon. Checked with real Debian tools:
//! `skopeo inspect` reads the OCI layout and the docker-archive, `umoci unpack` unpacks the
//! layout, and the unpacked `/tlsdoctor` runs in a chroot of that root filesystem with an
//! empty environment as the image's user (65532), against a real `openssl s_server`. A
//! second build of the image from the same binary has the same digest, byte for byte. The
//! README's install-and-push commands run as written (the push goes to a local `oci:`
//! directory instead of a registry).
//!
//! The static build is cached in target/static (the first run takes minutes).

#[path = "common/ship.rs"]
mod ship;
#[path = "common/store.rs"]
mod store;

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const UID: u32 = 65532;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(o.status.success(), "{cmd:?}: {}", text(&o));
    o
}

/// A real tool with a cleared environment.
fn tool(name: &str) -> Command {
    let mut c = Command::new(name);
    c.env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", std::env::temp_dir());
    c
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// Every path of a tree, relative, sorted.
fn walk(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.insert(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out
}

/// The README's block that installs the release binary and pushes the image.
fn readme_release_block() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("```sh\nscripts/build-release\ncd dist && sha256sum -c")
        .expect("README: the block with `sha256sum -c`");
    let body = &readme[start + "```sh\n".len()..];
    // Its first command, scripts/build-release, ran above (into a temporary DIST).
    let body = body.strip_prefix("scripts/build-release\n").unwrap();
    body[..body.find("```").unwrap()].to_string()
}

#[test]
fn release_binary_checksum_and_image_check_with_real_tools() {
    for t in ["skopeo", "umoci", "chroot", "openssl", "sha256sum"] {
        if ship::need(t).is_none() {
            return;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");

    // --- scripts/build-release ----------------------------------------------------------
    let out = ship::repo_script("build-release")
        .env("DIST", &dist)
        .output()
        .unwrap();
    let log = text(&out);
    if out.status.code() == Some(2) && !ship::ci() {
        eprintln!("SKIPPED: the static build prerequisites are missing:\n{log}");
        return;
    }
    assert!(out.status.success(), "scripts/build-release failed:\n{log}");
    let name = format!("tlsdoctor-{VERSION}-x86_64-unknown-linux-musl");
    let bin = dist.join(&name);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .map(PathBuf::from),
        Some(bin.clone())
    );
    let digest = log
        .lines()
        .find_map(|l| l.strip_prefix("image digest: "))
        .expect("build-release prints the image digest")
        .to_string();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert_eq!(bin.metadata().unwrap().permissions().mode() & 0o777, 0o755);
    let sum = std::fs::read_to_string(dist.join(format!("{name}.sha256"))).unwrap();
    assert_eq!(
        sum,
        format!(
            "{}  {name}\n",
            tlsdoctor::x509::sha256_hex(&std::fs::read(&bin).unwrap())
        )
    );
    let oci = dist.join(format!("tlsdoctor-{VERSION}-oci"));
    let docker = dist.join(format!("tlsdoctor-{VERSION}-docker.tar"));
    let oci_ref = format!("oci:{}:{VERSION}", oci.display());
    let docker_ref = format!("docker-archive:{}", docker.display());

    // --- the README's commands: check the sum, install the binary, push the image ------
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let pushed = tmp.path().join("pushed");
    let block = readme_release_block().replace(
        &format!("docker://registry.example.com/tlsdoctor:{VERSION}"),
        &format!("oci:{}:{VERSION}", pushed.display()),
    );
    assert!(block.contains("sha256sum -c") && block.contains("install -D -m 0755 tlsdoctor-"));
    assert!(block.contains("skopeo copy oci:"));
    let o = run(tool("/bin/sh")
        .args(["-ec", &format!("{block}\n")])
        .current_dir(tmp.path())
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", tmp.path()));
    assert!(text(&o).contains(": OK"), "{}", text(&o));
    let installed = home.join(".local/bin/tlsdoctor");
    let v = run(tool(installed.to_str().unwrap()).arg("--version"));
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("tlsdoctor {VERSION}")
    );
    let pushed_manifest =
        run(tool("skopeo").args(["inspect", "--raw", &format!("oci:{}:{VERSION}", pushed.display())]));
    assert_eq!(json(&pushed_manifest)["layers"].as_array().unwrap().len(), 1);

    // --- skopeo reads both forms --------------------------------------------------------
    let inspect = json(&run(tool("skopeo").args(["inspect", &oci_ref])));
    assert_eq!(inspect["Digest"], digest.as_str());
    assert_eq!(inspect["Os"], "linux");
    assert_eq!(inspect["Architecture"], "amd64");
    let labels = &inspect["Labels"];
    assert_eq!(labels["org.opencontainers.image.title"], "tlsdoctor");
    assert_eq!(labels["org.opencontainers.image.version"], VERSION);
    assert_eq!(
        labels["org.opencontainers.image.licenses"],
        env!("CARGO_PKG_LICENSE")
    );
    for l in ["description", "revision", "created"] {
        let v = labels[format!("org.opencontainers.image.{l}")]
            .as_str()
            .unwrap_or("");
        assert!(!v.is_empty(), "label {l} missing: {labels}");
    }
    let config = json(&run(tool("skopeo").args(["inspect", "--config", &oci_ref])));
    assert_eq!(config["config"]["User"], format!("{UID}:{UID}"));
    assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/tlsdoctor"]));
    assert!(
        config["config"]["Env"].is_null(),
        "FROM scratch: no inherited Env"
    );
    let from_archive = json(&run(tool("skopeo").args(["inspect", &docker_ref])));
    assert_eq!(from_archive["Labels"], *labels);
    let archive_config = json(&run(tool("skopeo").args(["inspect", "--config", &docker_ref])));
    assert_eq!(
        archive_config, config,
        "the docker-archive carries the same config"
    );
    // The layout validates as OCI (umoci refuses malformed layouts and digests).
    let listed = run(tool("umoci").args(["list", "--layout", oci.to_str().unwrap()]));
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), VERSION);

    // --- reproducible: the same binary built again gives the same bytes ----------------
    let again = tmp.path().join("again");
    let o = run(ship::repo_script("build-image").arg(&bin).arg(&again));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        digest,
        "second build, other digest"
    );
    assert_eq!(
        std::fs::read(&docker).unwrap(),
        std::fs::read(again.join(format!("tlsdoctor-{VERSION}-docker.tar"))).unwrap(),
        "docker-archive differs between two builds"
    );
    let again_oci = again.join(format!("tlsdoctor-{VERSION}-oci"));
    assert_eq!(walk(&oci), walk(&again_oci));
    for f in walk(&oci) {
        let (a, b) = (oci.join(&f), again_oci.join(&f));
        if a.is_file() {
            assert_eq!(
                std::fs::read(a).unwrap(),
                std::fs::read(b).unwrap(),
                "{f} differs"
            );
        }
    }
    eprintln!("image digest {digest}, reproduced");

    // --- umoci unpacks it: exactly the files the image promises -------------------------
    let bundle = tmp.path().join("bundle");
    run(tool("umoci").args([
        "unpack",
        "--image",
        &format!("{}:{VERSION}", oci.display()),
        bundle.to_str().unwrap(),
    ]));
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        walk(&rootfs),
        ["etc", "etc/group", "etc/passwd", "tlsdoctor", "tmp"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let m = rootfs.join("tlsdoctor").metadata().unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, 0, 0o755));
    assert_eq!(rootfs.join("tmp").metadata().unwrap().mode() & 0o7777, 0o1777);
    assert_eq!(
        std::fs::read(rootfs.join("tlsdoctor")).unwrap(),
        std::fs::read(&bin).unwrap()
    );
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(passwd.contains(&format!("nonroot:x:{UID}:{UID}:")), "{passwd}");
    let runtime: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(runtime["process"]["user"]["uid"], UID);
    assert_eq!(runtime["process"]["args"], serde_json::json!(["/tlsdoctor"]));

    // --- the unpacked binary runs: chroot, empty environment, user 65532 ----------------
    let pki = rootfs.join("tmp");
    let ca = ship::ca(&pki, "ca", "Example Root CA");
    let int = ship::intermediate(&pki, "int", "Example Issuing CA", &ca);
    let leaf = ship::leaf(&pki, "leaf", &["api.internal"], (2025, 1, 1), (2035, 1, 1), &int);
    for f in ["ca.pem", "int.pem", "leaf.pem"] {
        std::fs::set_permissions(pki.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let openssl = ship::need("openssl").unwrap();
    let server = ship::SServer::start(
        &openssl,
        &leaf.cert_path,
        &leaf.key_path,
        &["-cert_chain", pki.join("int.pem").to_str().unwrap()],
    );
    let in_image = |args: &[&str]| -> Output {
        Command::new("/usr/sbin/chroot")
            .arg(format!("--userspec={UID}:{UID}"))
            .arg(&rootfs)
            .arg("/tlsdoctor")
            .args(args)
            .env_clear()
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let v = in_image(&["--version"]);
    assert!(v.status.success(), "{}", text(&v));
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("tlsdoctor {VERSION}")
    );
    let addr = format!("127.0.0.1:{}", server.port);
    let c = in_image(&[
        "--json",
        "connect",
        &addr,
        "--name",
        "api.internal",
        "--ca",
        "/tmp/ca.pem",
    ]);
    assert_eq!(c.status.code(), Some(0), "{}", text(&c));
    let doc: Value = serde_json::from_slice(&c.stdout).unwrap();
    assert_eq!(doc["schema"], "tlsdoctor.connect/v1");
    assert_eq!(doc["chain"].as_array().map(Vec::len), Some(2), "{doc}");
    // Its own World is the scratch image: no store anywhere, said so, exit 1, no panic.
    let s = in_image(&["store"]);
    assert_eq!(s.status.code(), Some(1), "{}", text(&s));
    assert!(!text(&s).contains("panicked"), "{}", text(&s));
    // A name it must not trust: exit 1 with the diagnosis, as outside the image.
    let bad = in_image(&[
        "connect",
        &addr,
        "--name",
        "www.example.com",
        "--ca",
        "/tmp/ca.pem",
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("name-mismatch"), "{}", text(&bad));

    // --- and tlsdoctor reads its own image in place -------------------------------------
    let (code, out, err) = store::tlsdoctor(&["--image", docker.to_str().unwrap(), "--json", "store"], &[]);
    assert!(code == 0 || code == 1, "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["schema"], "tlsdoctor.store/v1");
}
