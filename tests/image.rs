//! `--image`: container images written by real tools (umoci builds OCI layouts from fixture
//! trees; skopeo turns them into OCI archives, docker-archives and zstd layouts) read in
//! place must answer exactly as the unpacked tree does (`--root` + `--env`), and as the
//! tree umoci itself unpacks (whiteouts and opaque directories applied by a real tool).

#[path = "common/store.rs"]
mod common;
#[path = "common/pod.rs"]
mod pod;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use pod::{layout_from_tree, run, umoci};
use serde_json::Value;

fn tools() -> bool {
    pod::image_tools()
}

fn skopeo_copy(extra: &[&str], from: &str, to: &str) {
    let mut args = vec!["copy", "--quiet", "--insecure-policy"];
    args.extend_from_slice(extra);
    args.push(from);
    args.push(to);
    run(Command::new("skopeo").args(args));
}

/// The same image as a layout, an OCI archive, a docker-archive and a zstd layout.
fn every_form(dir: &Path, layout: &Path) -> Vec<(String, PathBuf)> {
    let src = format!("oci:{}:t", layout.display());
    let oa = dir.join("image.oci.tar");
    skopeo_copy(&[], &src, &format!("oci-archive:{}", oa.display()));
    let da = dir.join("image.docker.tar");
    skopeo_copy(&[], &src, &format!("docker-archive:{}:app:1", da.display()));
    let z = dir.join("zstd");
    skopeo_copy(
        &["--dest-compress-format", "zstd", "--dest-compress"],
        &src,
        &format!("oci:{}:t", z.display()),
    );
    let zstd_layer = std::fs::read_dir(z.join("blobs/sha256")).unwrap().any(|e| {
        std::fs::read(e.unwrap().path())
            .unwrap()
            .starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
    });
    assert!(zstd_layer, "skopeo wrote no zstd layer");
    vec![
        ("oci layout".into(), layout.to_path_buf()),
        ("oci-archive".into(), oa),
        ("docker-archive".into(), da),
        ("zstd oci layout".into(), z),
    ]
}

/// `store --json` for a World, keeping what the World decides (runtimes, steps, anchors,
/// findings), not how it is named.
fn store_json(world_args: &[&str]) -> Value {
    let mut args: Vec<&str> = world_args.to_vec();
    args.extend_from_slice(&["store", "--json", "--runtime", "all"]);
    let (code, out, err) = tlsdoctor(&args, &[]);
    assert!(code == 0 || code == 1, "{args:?}: exit {code}: {err}");
    let mut v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"));
    let env = v["world"]["env"].take();
    serde_json::json!({"runtimes": v["runtimes"].take(), "findings": v["findings"].take(), "env": env})
}

fn env_args(env: &[(&str, &str)]) -> Vec<String> {
    env.iter()
        .flat_map(|(k, v)| ["--env".to_string(), format!("{k}={v}")])
        .collect()
}

fn assert_same_as_tree(tree: &Path, env: &[(&str, &str)], entrypoint: Option<&str>, scenario: &str) {
    let dir = tempfile::tempdir().unwrap();
    let layout = layout_from_tree(dir.path(), tree, env, entrypoint);
    let ea = env_args(env);
    let mut root_args: Vec<&str> = vec!["--root", tree.to_str().unwrap()];
    root_args.extend(ea.iter().map(String::as_str));
    let want = store_json(&root_args);
    for (form, path) in every_form(dir.path(), &layout) {
        let got = store_json(&["--image", path.to_str().unwrap()]);
        assert_eq!(
            got, want,
            "{scenario}: the {form} reads differently from the unpacked tree"
        );
    }
}

#[test]
fn debian_like_image_reads_as_its_tree() {
    if !tools() {
        return;
    }
    let (a, b) = (ca("Image Debian A"), ca("Image Debian B"));
    let fs = Fs::new();
    debian(&fs, &[&a, &b]);
    fs.write("/usr/local/bin/app", "\x7fELF");
    assert_same_as_tree(
        fs.root(),
        &[
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("SSL_CERT_DIR", "/etc/ssl/certs"),
        ],
        Some("app"),
        "debian",
    );
}

#[test]
fn alpine_like_image_reads_as_its_tree() {
    if !tools() {
        return;
    }
    let a = ca("Image Alpine A");
    let fs = Fs::new();
    alpine(&fs, &[&a]);
    assert_same_as_tree(fs.root(), &[("PATH", "/usr/bin:/bin")], None, "alpine");
}

#[test]
fn distroless_image_with_ssl_cert_file_reads_as_its_tree() {
    if !tools() {
        return;
    }
    let (a, extra) = (ca("Image Distroless A"), ca("Image Distroless Extra"));
    let fs = Fs::new();
    distroless(&fs, &[&a]);
    fs.write("/certs/extra.pem", extra.pem());
    assert_same_as_tree(
        fs.root(),
        &[("SSL_CERT_FILE", "/certs/extra.pem")],
        Some("/app"),
        "distroless",
    );
}

#[test]
fn scratch_image_reads_as_its_tree_and_its_entrypoint_is_the_program() {
    if !tools() {
        return;
    }
    let fs = Fs::new();
    scratch(&fs);
    assert_same_as_tree(fs.root(), &[], Some("/app"), "scratch");
    let dir = tempfile::tempdir().unwrap();
    let l = layout_from_tree(dir.path(), fs.root(), &[("A", "1")], Some("/app"));
    let w = tlsdoctor::world::World::from_image(&l, None).unwrap();
    assert_eq!(w.exe(), Some(Path::new("/app")));
    assert_eq!(w.var("A"), Some("1"));
}

/// A program named without a path is found through the image's PATH, as exec would.
#[test]
fn a_bare_entrypoint_is_found_on_the_images_path() {
    if !tools() {
        return;
    }
    let fs = Fs::new();
    fs.write("/opt/tool/bin/server", "\x7fELF");
    let dir = tempfile::tempdir().unwrap();
    let l = layout_from_tree(
        dir.path(),
        fs.root(),
        &[("PATH", "/usr/bin:/opt/tool/bin")],
        Some("server"),
    );
    let w = tlsdoctor::world::World::from_image(&l, None).unwrap();
    assert_eq!(w.exe(), Some(Path::new("/opt/tool/bin/server")));
}

/// Whiteouts written by umoci (a deleted file and an opaque directory, in later layers)
/// are applied as umoci's own unpack applies them.
#[test]
fn whiteouts_and_opaque_directories_match_umocis_unpack() {
    if !tools() {
        return;
    }
    let (a, b, c) = (ca("Whiteout A"), ca("Whiteout B"), ca("Whiteout C"));
    let fs = Fs::new();
    debian(&fs, &[&a, &b]);
    fs.write("/usr/local/share/ca-certificates/old/b.crt", b.pem());
    let dir = tempfile::tempdir().unwrap();
    let l = layout_from_tree(
        dir.path(),
        fs.root(),
        &[("SSL_CERT_DIR", "/usr/local/share/ca-certificates/old")],
        None,
    );
    let li = format!("{}:t", l.display());
    // Layer 2: delete B's file from /etc/ssl/certs (its hash link now dangles).
    let bname = "Whiteout_B.pem";
    umoci(&[
        "insert",
        "--image",
        &li,
        "--whiteout",
        &format!("/etc/ssl/certs/{bname}"),
    ]);
    // Layer 3: replace /usr/local/share/ca-certificates/old by a directory holding only C.
    let newdir = dir.path().join("newdir");
    std::fs::create_dir_all(&newdir).unwrap();
    std::fs::write(newdir.join("c.crt"), c.pem()).unwrap();
    umoci(&[
        "insert",
        "--image",
        &li,
        "--opaque",
        newdir.to_str().unwrap(),
        "/usr/local/share/ca-certificates/old",
    ]);
    let unpacked = dir.path().join("unpacked");
    umoci(&["raw", "unpack", "--image", &li, unpacked.to_str().unwrap()]);
    assert!(!unpacked.join("etc/ssl/certs").join(bname).exists());
    assert!(!unpacked
        .join("usr/local/share/ca-certificates/old/b.crt")
        .exists());
    let want = store_json(&[
        "--root",
        unpacked.to_str().unwrap(),
        "--env",
        "SSL_CERT_DIR=/usr/local/share/ca-certificates/old",
    ]);
    for (form, path) in every_form(dir.path(), &l) {
        let got = store_json(&["--image", path.to_str().unwrap()]);
        assert_eq!(
            got, want,
            "{form}: whiteouts applied differently from umoci's unpack"
        );
    }
    // And the World itself: B's file is gone, C alone is in the opaque directory.
    let w = tlsdoctor::world::World::from_image(&l, None).unwrap();
    assert!(!w.exists(&Path::new("/etc/ssl/certs").join(bname)));
    let names: Vec<String> = w
        .read_dir(Path::new("/usr/local/share/ca-certificates/old"))
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["c.crt"]);
}

/// `verify` and `store --find` answer on an image as on its tree.
#[test]
fn verify_and_find_work_on_an_image() {
    if !tools() {
        return;
    }
    let root = ca("Image Verify Root");
    let other = ca("Image Verify Other");
    let srv = leaf(&root, "svc.test");
    let fs = Fs::new();
    debian(&fs, &[&other]);
    fs.write("/etc/app/ca.pem", root.pem());
    let dir = tempfile::tempdir().unwrap();
    let l = layout_from_tree(
        dir.path(),
        fs.root(),
        &[("SSL_CERT_FILE", "/etc/app/ca.pem")],
        None,
    );
    let chain = dir.path().join("chain.pem");
    std::fs::write(&chain, srv.pem()).unwrap();
    let da = dir.path().join("d.tar");
    skopeo_copy(
        &[],
        &format!("oci:{}:t", l.display()),
        &format!("docker-archive:{}:app:1", da.display()),
    );
    for img in [&l, &da] {
        let i = img.to_str().unwrap();
        let (code, out, err) = tlsdoctor(
            &[
                "--image",
                i,
                "verify",
                chain.to_str().unwrap(),
                "--name",
                "svc.test",
                "--runtime",
                "go",
                "--runtime",
                "openssl",
                "--json",
            ],
            &[],
        );
        assert_eq!(code, 0, "{out}{err}");
        // Without the image's SSL_CERT_FILE the CA is not trusted.
        let (code, out, err) = tlsdoctor(
            &[
                "--image",
                i,
                "--env",
                "SSL_CERT_FILE=",
                "verify",
                chain.to_str().unwrap(),
                "--name",
                "svc.test",
                "--runtime",
                "go",
            ],
            &[],
        );
        assert_eq!(code, 1, "{out}{err}");
        let (code, out, err) = tlsdoctor(
            &["--image", i, "store", "--find", "Image Verify Root", "--json"],
            &[],
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("/etc/app/ca.pem"), "{out}");
    }
}

#[test]
fn junk_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "not an image"),
        ("text", b"hello world\n".to_vec(), "not an image"),
        (
            "gzip",
            vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3],
            "gzip-compressed",
        ),
    ];
    for (name, data, want) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        let (code, out, err) = tlsdoctor(&["--image", p.to_str().unwrap(), "store"], &[]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(err.contains(want), "{name}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A layout whose index.json is not JSON, and one pointing at a missing blob.
    let l = dir.path().join("l");
    std::fs::create_dir_all(&l).unwrap();
    std::fs::write(l.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(l.join("index.json"), "{nope").unwrap();
    let (code, _, err) = tlsdoctor(&["--image", l.to_str().unwrap(), "store"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("index.json"), "{err}");
    std::fs::write(
        l.join("index.json"),
        r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","size":1}]}"#,
    )
    .unwrap();
    let (code, _, err) = tlsdoctor(&["--image", l.to_str().unwrap(), "store"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("blobs/sha256/00"), "{err}");
    let (code, _, err) = tlsdoctor(
        &["--image", l.to_str().unwrap(), "--platform", "linux", "store"],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("os/arch"), "{err}");
}

/// A layer that is not a tar stream (a truncated gzip) is an error naming the layer.
#[test]
fn a_broken_layer_is_named() {
    if !tools() {
        return;
    }
    let fs = Fs::new();
    alpine(&fs, &[&ca("Broken Layer")]);
    let dir = tempfile::tempdir().unwrap();
    let l = layout_from_tree(dir.path(), fs.root(), &[], None);
    let mut biggest: Option<(u64, PathBuf)> = None;
    for e in std::fs::read_dir(l.join("blobs/sha256")).unwrap() {
        let p = e.unwrap().path();
        let n = std::fs::metadata(&p).unwrap().len();
        if biggest.as_ref().is_none_or(|(m, _)| n > *m) {
            biggest = Some((n, p));
        }
    }
    let (n, p) = biggest.unwrap();
    let data = std::fs::read(&p).unwrap();
    std::fs::write(&p, &data[..(n as usize) / 2]).unwrap();
    let (code, out, err) = tlsdoctor(&["--image", l.to_str().unwrap(), "store"], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("layer 1"), "{err}");
}
