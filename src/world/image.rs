//! A container image read in place (`--image PATH`): an OCI image layout directory, an OCI
//! archive (a tar of a layout), or a `docker save` / `podman save` archive. Nothing is
//! unpacked to disk: the layers (uncompressed, gzip or zstd tar streams) are read in order
//! once, whiteouts applied (`.wh.NAME` deletes NAME from the layers below, `.wh..wh..opq`
//! empties its directory of them), and the result is an in-memory index: each path points
//! at its bytes inside a layer (kept in memory for small files of compressed layers, read
//! again on demand otherwise). The config's `Env` is the World's environment and its
//! `Entrypoint`/`Cmd` the program.
//!
//! Bounded: every JSON document is capped, a layer may not decompress past
//! [`MAX_LAYER_BYTES`], the index past [`MAX_ENTRIES`], and junk is an error that names
//! the file, never a panic.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use serde::Deserialize;

use super::tree::{Content, Node, NodeKind, Tree};

/// A layer may not decompress to more than this (a decompression bomb is an error).
pub const MAX_LAYER_BYTES: u64 = 16 * 1024 * 1024 * 1024;
/// Entries of all layers together.
pub const MAX_ENTRIES: usize = 2_000_000;
/// Index, manifest and config documents.
const MAX_JSON_BYTES: u64 = 8 * 1024 * 1024;
/// Files of compressed layers up to this size are kept in memory while indexing (reading
/// them later would mean decompressing the layer again).
const KEEP_FILE_BYTES: u64 = 256 * 1024;
/// Total bytes kept in memory that way; past it, files are read again on demand.
const KEEP_TOTAL_BYTES: u64 = 128 * 1024 * 1024;
/// Nested image indexes.
const MAX_INDEX_DEPTH: usize = 4;

/// A byte range of a host file: a blob, in a layout directory or inside an archive.
#[derive(Debug, Clone)]
struct Blob {
    file: Arc<PathBuf>,
    offset: u64,
    len: u64,
}

impl Blob {
    fn open(&self) -> io::Result<io::Take<fs::File>> {
        let mut f = crate::fsio::open_regular(&self.file)?;
        f.seek(SeekFrom::Start(self.offset))?;
        Ok(f.take(self.len))
    }

    fn read_all(&self, cap: u64, what: &str) -> anyhow::Result<Vec<u8>> {
        if self.len > cap {
            bail!("{what} is {} bytes, larger than the {cap} byte limit", self.len);
        }
        let mut buf = Vec::with_capacity(self.len as usize);
        self.open()
            .and_then(|mut r| r.read_to_end(&mut buf))
            .with_context(|| format!("reading {what}"))?;
        Ok(buf)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || is_skippable_frame(head) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

fn is_skippable_frame(head: &[u8]) -> bool {
    head.len() >= 4 && {
        let m = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        (0x184D_2A50..=0x184D_2A5F).contains(&m)
    }
}

#[derive(Debug)]
struct Layer {
    blob: Blob,
    compression: Compression,
    digest: String,
}

/// The parts of an image config that make the World.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub env: BTreeMap<String, String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Config {
    /// The command line the container runs: `Entrypoint` then `Cmd` (as `docker run`
    /// without arguments; Kubernetes `command`/`args` replace them).
    pub fn program(&self) -> Option<Vec<String>> {
        let mut v = self.entrypoint.clone();
        v.extend(self.cmd.iter().cloned());
        (!v.is_empty()).then_some(v)
    }

    pub fn platform(&self) -> String {
        platform_string(&self.os, &self.architecture, self.variant.as_deref())
    }
}

fn platform_string(os: &str, arch: &str, variant: Option<&str>) -> String {
    match variant {
        Some(v) if !v.is_empty() => format!("{os}/{arch}/{v}"),
        _ => format!("{os}/{arch}"),
    }
}

/// An image, indexed.
#[derive(Debug)]
pub struct Image {
    /// The path given (the layout directory or the archive).
    pub path: PathBuf,
    /// For reports: the path, the tag chosen, the platform.
    pub label: String,
    pub config: Config,
    pub tree: Tree,
    /// What the report must say (platform chosen, entries skipped, …).
    pub notes: Vec<String>,
    layers: Vec<Layer>,
}

// ---- the container of blobs: a layout directory or an archive ----

enum Store {
    Dir(PathBuf),
    Tar {
        file: Arc<PathBuf>,
        members: HashMap<String, (u64, u64)>,
        links: HashMap<String, String>,
    },
}

fn clean_member(name: &str) -> Option<String> {
    let mut parts = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

impl Store {
    fn open(path: &Path) -> anyhow::Result<Store> {
        let md = fs::metadata(path).with_context(|| format!("--image {}", path.display()))?;
        if md.is_dir() {
            return Ok(Store::Dir(path.to_path_buf()));
        }
        let mut f = crate::fsio::open_regular(path).with_context(|| format!("--image {}", path.display()))?;
        let mut head = [0u8; 512];
        let n = read_up_to(&mut f, &mut head)?;
        match sniff(&head[..n]) {
            Compression::None => {}
            c => bail!(
                "--image {}: a {}-compressed file; an image archive is read in place, so it must be \
                 the tar itself (decompress it first, e.g. `{} -d`)",
                path.display(),
                c.name(),
                if c == Compression::Gzip { "gzip" } else { "zstd" }
            ),
        }
        if n < 512 || &head[257..262] != b"ustar" {
            bail!(
                "--image {}: not an image: expected an OCI layout directory, an OCI archive or a \
                 docker-archive (a tar file)",
                path.display()
            );
        }
        f.seek(SeekFrom::Start(0))?;
        let mut ar = tar::Archive::new(f);
        let mut members = HashMap::new();
        let mut links = HashMap::new();
        let entries = ar
            .entries_with_seek()
            .with_context(|| format!("--image {}: reading the archive", path.display()))?;
        for e in entries {
            let e = e.with_context(|| format!("--image {}: a broken tar archive", path.display()))?;
            if members.len() + links.len() > 1_000_000 {
                bail!("--image {}: more than a million archive members", path.display());
            }
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let Some(name) = clean_member(&name) else { continue };
            match e.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    members.insert(name, (e.raw_file_position(), e.size()));
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(t) = e.link_name_bytes() {
                        let t = String::from_utf8_lossy(&t).into_owned();
                        let full = if e.header().entry_type() == tar::EntryType::Link || t.starts_with('/') {
                            t
                        } else {
                            match name.rsplit_once('/') {
                                Some((dir, _)) => format!("{dir}/{t}"),
                                None => t,
                            }
                        };
                        if let Some(full) = clean_member(&full) {
                            links.insert(name, full);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(Store::Tar {
            file: Arc::new(path.to_path_buf()),
            members,
            links,
        })
    }

    fn has(&self, name: &str) -> bool {
        self.blob(name).is_ok()
    }

    fn blob(&self, name: &str) -> anyhow::Result<Blob> {
        let Some(clean) = clean_member(name) else {
            bail!("{name:?}: not a path inside the image");
        };
        if name.starts_with('/') || name.split('/').any(|p| p == "..") {
            bail!("{name:?}: a path leaving the image");
        }
        match self {
            Store::Dir(d) => {
                let p = d.join(&clean);
                let md = fs::metadata(&p).with_context(|| format!("{}", p.display()))?;
                if !md.is_file() {
                    bail!("{}: not a file", p.display());
                }
                Ok(Blob {
                    file: Arc::new(p),
                    offset: 0,
                    len: md.len(),
                })
            }
            Store::Tar { file, members, links } => {
                let mut n = clean;
                for _ in 0..8 {
                    if let Some((off, len)) = members.get(&n) {
                        return Ok(Blob {
                            file: file.clone(),
                            offset: *off,
                            len: *len,
                        });
                    }
                    match links.get(&n) {
                        Some(t) => n = t.clone(),
                        None => break,
                    }
                }
                bail!("{name}: not in the archive")
            }
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> anyhow::Result<T> {
        let data = self.blob(name)?.read_all(MAX_JSON_BYTES, name)?;
        serde_json::from_slice(&data).with_context(|| format!("{name}: not the expected JSON document"))
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

// ---- OCI and docker documents ----

#[derive(Deserialize, Debug, Clone)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize, Debug, Clone)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize, Debug)]
struct Index {
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
}

#[derive(Deserialize, Debug)]
struct DockerManifest {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

#[derive(Deserialize, Debug, Default)]
struct ConfigDoc {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    config: Option<RunConfig>,
}

#[derive(Deserialize, Debug, Default)]
struct RunConfig {
    #[serde(rename = "Env", default)]
    env: Option<Vec<String>>,
    #[serde(rename = "Entrypoint", default)]
    entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    cmd: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default)]
    working_dir: Option<String>,
    #[serde(rename = "User", default)]
    user: Option<String>,
}

fn digest_path(d: &str) -> anyhow::Result<String> {
    let (alg, hex) = d
        .split_once(':')
        .ok_or_else(|| anyhow!("{d:?}: not a digest (expected algorithm:hex)"))?;
    let ok = !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
        && !hex.is_empty()
        && hex
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'=' || b == b'_' || b == b'-');
    if !ok {
        bail!("{d:?}: not a digest (expected algorithm:hex)");
    }
    Ok(format!("blobs/{alg}/{hex}"))
}

fn is_index_type(mt: &str) -> bool {
    mt == "application/vnd.oci.image.index.v1+json"
        || mt == "application/vnd.docker.distribution.manifest.list.v2+json"
}

/// The host's platform, as image indexes name it.
fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    format!("linux/{arch}")
}

fn platform_matches(want: &str, p: &Platform) -> bool {
    let mut w = want.split('/');
    let (os, arch, variant) = (w.next().unwrap_or(""), w.next().unwrap_or(""), w.next());
    p.os == os
        && p.architecture == arch
        && match variant {
            None => true,
            Some(v) => p.variant.as_deref() == Some(v),
        }
}

impl Image {
    /// Open and index an image. `platform` (`os/arch[/variant]`) picks one image of a
    /// multi-platform index; without it the host's platform is taken. `path` may end in
    /// `:TAG` to pick one of several images of a layout or archive.
    pub fn open(path: &Path, platform: Option<&str>) -> anyhow::Result<Image> {
        if let Some(p) = platform {
            let parts: Vec<&str> = p.split('/').collect();
            if !(2..=3).contains(&parts.len()) || parts.iter().any(|s| s.is_empty()) {
                bail!("--platform {p:?}: expected os/arch or os/arch/variant (linux/arm64/v8)");
            }
        }
        let (file, tag) = split_tag(path);
        let store = Store::open(&file)?;
        let shown = file.display().to_string();
        let mut notes = Vec::new();
        let (config_blob, layer_blobs, chosen) = if store.has("index.json") && store.has("oci-layout") {
            Self::select_oci(&store, tag.as_deref(), platform, &mut notes)
                .with_context(|| format!("--image {shown}"))?
        } else if store.has("manifest.json") {
            Self::select_docker(&store, tag.as_deref()).with_context(|| format!("--image {shown}"))?
        } else if store.has("index.json") {
            Self::select_oci(&store, tag.as_deref(), platform, &mut notes)
                .with_context(|| format!("--image {shown}"))?
        } else {
            bail!(
                "--image {shown}: not an image: no oci-layout/index.json (OCI layout) and no \
                 manifest.json (docker-archive)"
            );
        };
        let cfg_bytes = config_blob.read_all(MAX_JSON_BYTES, "the image config")?;
        let cfg: ConfigDoc = serde_json::from_slice(&cfg_bytes).with_context(|| {
            format!("--image {shown}: the image config is not the expected JSON document")
        })?;
        let rc = cfg.config.unwrap_or_default();
        let mut env = BTreeMap::new();
        for kv in rc.env.unwrap_or_default() {
            match kv.split_once('=') {
                Some((k, v)) => env.insert(k.to_string(), v.to_string()),
                None => env.insert(kv, String::new()),
            };
        }
        let config = Config {
            env,
            entrypoint: rc.entrypoint.unwrap_or_default(),
            cmd: rc.cmd.unwrap_or_default(),
            working_dir: rc.working_dir.filter(|s| !s.is_empty()),
            user: rc.user.filter(|s| !s.is_empty()),
            os: cfg.os,
            architecture: cfg.architecture,
            variant: cfg.variant,
        };
        if let Some(p) = platform {
            let have = config.platform();
            if !have.starts_with(p) && !p.starts_with(&have) {
                bail!("--image {shown}: the image is for {have}, not {p}");
            }
        }
        let mut layers = Vec::new();
        for (blob, digest) in layer_blobs {
            let mut head = [0u8; 4];
            let n = blob
                .open()
                .and_then(|mut r| read_up_to(&mut r, &mut head))
                .with_context(|| format!("--image {shown}: layer {digest}"))?;
            layers.push(Layer {
                compression: sniff(&head[..n]),
                blob,
                digest,
            });
        }
        let mut label = shown;
        if let Some(t) = chosen {
            label = format!("{label} ({t})");
        }
        let mut img = Image {
            path: file,
            label,
            config,
            tree: Tree::new(),
            notes,
            layers,
        };
        img.index()?;
        Ok(img)
    }

    #[allow(clippy::type_complexity)]
    fn select_oci(
        store: &Store,
        tag: Option<&str>,
        platform: Option<&str>,
        notes: &mut Vec<String>,
    ) -> anyhow::Result<(Blob, Vec<(Blob, String)>, Option<String>)> {
        let index: Index = store.json("index.json")?;
        let mut cands = index.manifests.unwrap_or_default();
        if cands.is_empty() {
            bail!("index.json lists no image");
        }
        let mut chosen_tag = None;
        let ref_name = |d: &Descriptor| d.annotations.get("org.opencontainers.image.ref.name").cloned();
        if let Some(t) = tag {
            cands.retain(|d| ref_name(d).as_deref() == Some(t));
            if cands.is_empty() {
                bail!("no image tagged {t:?} in index.json");
            }
            chosen_tag = Some(t.to_string());
        } else {
            let mut names: Vec<String> = cands.iter().filter_map(ref_name).collect();
            names.sort();
            names.dedup();
            if names.len() > 1 {
                bail!(
                    "index.json holds several images ({}): name one as PATH:TAG",
                    names.join(", ")
                );
            }
            chosen_tag = names.pop().or(chosen_tag);
        }
        // Descend nested indexes; collect image manifests with their platforms.
        let mut images: Vec<Descriptor> = Vec::new();
        let mut work: Vec<(Descriptor, usize)> = cands.into_iter().map(|d| (d, 0)).collect();
        while let Some((d, depth)) = work.pop() {
            let path = digest_path(&d.digest)?;
            if is_index_type(&d.media_type) || d.media_type.is_empty() {
                let doc: Index = store.json(&path)?;
                if let Some(ms) = doc.manifests {
                    if depth >= MAX_INDEX_DEPTH {
                        bail!("image indexes nested more than {MAX_INDEX_DEPTH} deep");
                    }
                    for m in ms.into_iter().rev() {
                        work.push((m, depth + 1));
                    }
                    continue;
                }
            }
            images.push(d);
        }
        // Attestations and other non-images carry platform unknown/unknown.
        images.retain(|d| d.platform.as_ref().is_none_or(|p| p.os != "unknown"));
        let with_platform = images.iter().filter(|d| d.platform.is_some()).count();
        let pick = if images.len() == 1 {
            images.pop()
        } else if with_platform > 0 {
            let want = platform.map(str::to_string).unwrap_or_else(host_platform);
            let mut matching: Vec<Descriptor> = images
                .iter()
                .filter(|d| d.platform.as_ref().is_some_and(|p| platform_matches(&want, p)))
                .cloned()
                .collect();
            let avail: Vec<String> = images
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| platform_string(&p.os, &p.architecture, p.variant.as_deref()))
                .collect();
            if matching.is_empty() {
                bail!(
                    "no image for {want} in this index (it has: {}); choose one with --platform",
                    avail.join(", ")
                );
            }
            if platform.is_none() {
                notes.push(format!(
                    "multi-platform image ({}): read the {want} image (choose with --platform)",
                    avail.join(", ")
                ));
            }
            Some(matching.remove(0))
        } else {
            None
        };
        let Some(m) = pick else {
            bail!("index.json lists {} images: name one as PATH:TAG", images.len());
        };
        let manifest: Index = store.json(&digest_path(&m.digest)?)?;
        let config = manifest
            .config
            .ok_or_else(|| anyhow!("manifest {}: no config", m.digest))?;
        let mut layers = Vec::new();
        for l in manifest.layers.unwrap_or_default() {
            if l.media_type.contains("nondistributable") || l.media_type.contains("foreign") {
                let path = digest_path(&l.digest)?;
                if !store.has(&path) {
                    notes.push(format!(
                        "layer {} ({}) is not in the image: its files are missing here",
                        l.digest, l.media_type
                    ));
                    continue;
                }
            }
            let _ = l.size;
            layers.push((store.blob(&digest_path(&l.digest)?)?, l.digest));
        }
        Ok((store.blob(&digest_path(&config.digest)?)?, layers, chosen_tag))
    }

    #[allow(clippy::type_complexity)]
    fn select_docker(
        store: &Store,
        tag: Option<&str>,
    ) -> anyhow::Result<(Blob, Vec<(Blob, String)>, Option<String>)> {
        let mut ms: Vec<DockerManifest> = store.json("manifest.json")?;
        let tags_of = |m: &DockerManifest| m.repo_tags.clone().unwrap_or_default();
        let m = match tag {
            Some(t) => {
                let i = ms
                    .iter()
                    .position(|m| {
                        tags_of(m)
                            .iter()
                            .any(|x| x == t || x.rsplit_once(':').is_some_and(|(_, tt)| tt == t))
                    })
                    .ok_or_else(|| anyhow!("no image tagged {t:?} in manifest.json"))?;
                ms.swap_remove(i)
            }
            None if ms.len() == 1 => ms.remove(0),
            None if ms.is_empty() => bail!("manifest.json lists no image"),
            None => bail!(
                "manifest.json holds several images ({}): name one as PATH:TAG",
                ms.iter().flat_map(tags_of).collect::<Vec<_>>().join(", ")
            ),
        };
        let chosen = tag.map(str::to_string).or_else(|| tags_of(&m).into_iter().next());
        let mut layers = Vec::new();
        for l in &m.layers {
            layers.push((store.blob(l)?, l.clone()));
        }
        Ok((store.blob(&m.config)?, layers, chosen))
    }

    fn open_layer(&self, i: usize) -> io::Result<Box<dyn Read>> {
        open_layer(&self.layers[i])
    }

    /// `len` bytes at `offset` of layer `layer`'s decompressed stream.
    pub fn read_layer_range(&self, layer: usize, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let l = self
            .layers
            .get(layer)
            .ok_or_else(|| io::Error::other("no such layer"))?;
        if l.compression == Compression::None {
            if offset.saturating_add(len) > l.blob.len {
                return Err(io::Error::other(format!("layer {}: truncated", l.digest)));
            }
            let mut f = fs::File::open(&*l.blob.file)?;
            f.seek(SeekFrom::Start(l.blob.offset + offset))?;
            let mut buf = Vec::with_capacity(len as usize);
            f.take(len).read_to_end(&mut buf)?;
            return Ok(buf);
        }
        let mut r = self.open_layer(layer)?;
        io::copy(&mut (&mut r).take(offset), &mut io::sink())?;
        let mut buf = Vec::with_capacity(len as usize);
        r.take(len).read_to_end(&mut buf)?;
        if (buf.len() as u64) < len {
            return Err(io::Error::other(format!("layer {}: truncated", l.digest)));
        }
        Ok(buf)
    }

    /// Read every layer once, in order, applying whiteouts.
    fn index(&mut self) -> anyhow::Result<()> {
        let mut kept_total = 0u64;
        let mut entries_total = 0usize;
        let mut escaped = 0usize;
        let mut bad_links = 0usize;
        for i in 0..self.layers.len() {
            let digest = self.layers[i].digest.clone();
            let compressed = self.layers[i].compression != Compression::None;
            let shown = self.path.display().to_string();
            let what = || format!("--image {shown}: layer {} ({digest})", i + 1);
            let reader = open_layer(&self.layers[i]).with_context(what)?;
            let mut ar = tar::Archive::new(reader);
            // This layer's whiteouts apply to the layers below only, whatever their place
            // in the tar stream: collect first, then delete, then add.
            let mut whiteouts: Vec<Vec<u8>> = Vec::new();
            let mut opaque: Vec<Vec<u8>> = Vec::new();
            let mut adds: Vec<(Vec<u8>, Add)> = Vec::new();
            let entries = ar.entries().with_context(what)?;
            for e in entries {
                let mut e = e
                    .map_err(|e| anyhow!("not a tar stream: {e}"))
                    .with_context(what)?;
                entries_total += 1;
                if entries_total > MAX_ENTRIES {
                    bail!("{}: more than {MAX_ENTRIES} entries in the image", what());
                }
                let raw = e.path_bytes().into_owned();
                let Some(key) = clean_key(&raw) else {
                    if raw.split(|b| *b == b'/').any(|p| p == b"..") {
                        escaped += 1;
                    }
                    continue;
                };
                let (dir, name) = match key.iter().rposition(|b| *b == b'/') {
                    Some(p) => (key[..p].to_vec(), key[p + 1..].to_vec()),
                    None => (Vec::new(), key.clone()),
                };
                if name == b".wh..wh..opq" {
                    opaque.push(dir);
                    continue;
                }
                if let Some(target) = name.strip_prefix(b".wh.") {
                    let mut k = dir.clone();
                    if !k.is_empty() {
                        k.push(b'/');
                    }
                    k.extend_from_slice(target);
                    whiteouts.push(k);
                    continue;
                }
                let mode = e.header().mode().unwrap_or(0o644);
                let add = match e.header().entry_type() {
                    tar::EntryType::Regular | tar::EntryType::Continuous => {
                        let len = e.size();
                        let offset = e.raw_file_position();
                        let content =
                            if compressed && len <= KEEP_FILE_BYTES && kept_total + len <= KEEP_TOTAL_BYTES {
                                let mut buf = Vec::with_capacity(len as usize);
                                (&mut e).take(len).read_to_end(&mut buf).with_context(what)?;
                                if buf.starts_with(b"\x7fELF") || is_bulk(&key) {
                                    Content::Layer {
                                        layer: i,
                                        offset,
                                        len,
                                    }
                                } else {
                                    kept_total += len;
                                    Content::Bytes(Arc::from(buf))
                                }
                            } else {
                                Content::Layer {
                                    layer: i,
                                    offset,
                                    len,
                                }
                            };
                        Add::Node(Node {
                            kind: NodeKind::File(content),
                            mode,
                        })
                    }
                    tar::EntryType::Directory => Add::Node(Node::dir(mode)),
                    tar::EntryType::Symlink => Add::Node(Node {
                        kind: NodeKind::Symlink(
                            e.link_name_bytes().map(|l| l.into_owned()).unwrap_or_default(),
                        ),
                        mode: 0o777,
                    }),
                    tar::EntryType::Link => match e.link_name_bytes().and_then(|l| clean_key(&l)) {
                        Some(t) => Add::Hardlink(t),
                        None => {
                            bad_links += 1;
                            continue;
                        }
                    },
                    tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => Add::Node(Node {
                        kind: NodeKind::Other,
                        mode,
                    }),
                    // PAX/GNU metadata entries are consumed by the tar reader; anything
                    // else is not a file a process could open.
                    _ => continue,
                };
                adds.push((key, add));
            }
            for d in opaque {
                self.tree.remove_descendants(&d);
            }
            for w in whiteouts {
                self.tree.remove(&w);
            }
            for (key, add) in adds {
                match add {
                    Add::Node(n) => self.tree.insert(&key, n),
                    Add::Hardlink(t) => match self.tree.get(&t).cloned() {
                        Some(n) if !matches!(n.kind, NodeKind::Dir) => self.tree.insert(&key, n),
                        _ => bad_links += 1,
                    },
                }
            }
        }
        if escaped > 0 {
            self.notes.push(format!(
                "{escaped} layer entries with '..' in their path were ignored"
            ));
        }
        if bad_links > 0 {
            self.notes.push(format!(
                "{bad_links} hard links to files not in the image were ignored"
            ));
        }
        Ok(())
    }

    /// The number of layers.
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }
}

/// A layer's tar stream, decompressed and capped.
fn open_layer(l: &Layer) -> io::Result<Box<dyn Read>> {
    let raw = l.blob.open()?;
    let r: Box<dyn Read> = match l.compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(raw))),
        Compression::Zstd => Box::new(ZstdFrames::new(io::BufReader::new(raw))),
    };
    Ok(Box::new(TarEnd {
        inner: Capped {
            inner: r,
            left: MAX_LAYER_BYTES,
        },
        pos: 0,
        pad: None,
    }))
}

/// Ends a tar stream that stops right after a member's data, without the padding and the
/// two zero blocks (umoci 0.4 writes layers so; Go's and GNU tar's readers accept them):
/// after the real end, zeros up to the next 512-byte block and an end-of-archive marker.
struct TarEnd<R> {
    inner: R,
    pos: u64,
    pad: Option<u64>,
}

impl<R: Read> Read for TarEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pad.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 || buf.is_empty() {
                self.pos += n as u64;
                return Ok(n);
            }
            self.pad = Some((512 - self.pos % 512) % 512 + 1024);
        }
        let left = self.pad.unwrap_or(0);
        let n = (buf.len() as u64).min(left) as usize;
        buf[..n].fill(0);
        self.pad = Some(left - n as u64);
        Ok(n)
    }
}

enum Add {
    Node(Node),
    Hardlink(Vec<u8>),
}

/// Bulk content never read for trust (kept out of memory while indexing).
fn is_bulk(key: &[u8]) -> bool {
    [
        &b"usr/share/doc/"[..],
        b"usr/share/man/",
        b"usr/share/locale/",
        b"usr/share/info/",
        b"usr/share/zoneinfo/",
    ]
    .iter()
    .any(|p| key.starts_with(p))
}

/// A layer entry's path as a tree key: no leading `/` or `./`, no `.` components;
/// `None` for the root itself or a path with `..`.
fn clean_key(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out: Vec<&[u8]> = Vec::new();
    for p in raw.split(|b| *b == b'/') {
        match p {
            b"" | b"." => {}
            b".." => return None,
            p => out.push(p),
        }
    }
    if out.is_empty() {
        return None;
    }
    Some(out.join(&b'/'))
}

/// `PATH:TAG` when PATH itself does not exist but the part before the last `:` does.
fn split_tag(path: &Path) -> (PathBuf, Option<String>) {
    if path.exists() {
        return (path.to_path_buf(), None);
    }
    let s = path.to_string_lossy();
    if let Some((p, t)) = s.rsplit_once(':') {
        if !t.contains('/') && Path::new(p).exists() {
            return (PathBuf::from(p), Some(t.to_string()));
        }
    }
    (path.to_path_buf(), None)
}

/// Fails the read once `left` bytes have been produced (a decompression bomb).
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(io::Error::other(format!(
                "decompresses to more than {} GiB: refused",
                MAX_LAYER_BYTES >> 30
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A reader with a few bytes pushed back in front (the magic a frame loop peeked at).
struct Pushback<R> {
    head: Vec<u8>,
    inner: R,
}

impl<R: Read> Read for Pushback<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.head.is_empty() {
            let n = buf.len().min(self.head.len());
            buf[..n].copy_from_slice(&self.head[..n]);
            self.head.drain(..n);
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// A zstd stream of one or more frames (skippable frames skipped), as zstd(1) reads it.
struct ZstdFrames<R: Read> {
    state: Option<ZState<R>>,
}

enum ZState<R: Read> {
    Between(Pushback<R>),
    In(Box<ruzstd::decoding::StreamingDecoder<Pushback<R>, ruzstd::decoding::FrameDecoder>>),
}

impl<R: Read> ZstdFrames<R> {
    fn new(r: R) -> Self {
        ZstdFrames {
            state: Some(ZState::Between(Pushback {
                head: Vec::new(),
                inner: r,
            })),
        }
    }
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state.take() {
                None => return Ok(0),
                Some(ZState::In(mut d)) => {
                    let n = d.read(buf)?;
                    if n > 0 {
                        self.state = Some(ZState::In(d));
                        return Ok(n);
                    }
                    self.state = Some(ZState::Between((*d).into_inner()));
                }
                Some(ZState::Between(mut r)) => {
                    let mut magic = [0u8; 4];
                    let n = read_up_to(&mut r, &mut magic)?;
                    if n == 0 {
                        return Ok(0);
                    }
                    if n < 4 {
                        return Err(io::Error::other("zstd: truncated stream"));
                    }
                    if is_skippable_frame(&magic) {
                        let mut sz = [0u8; 4];
                        if read_up_to(&mut r, &mut sz)? < 4 {
                            return Err(io::Error::other("zstd: truncated skippable frame"));
                        }
                        let len = u32::from_le_bytes(sz) as u64;
                        if io::copy(&mut (&mut r).take(len), &mut io::sink())? < len {
                            return Err(io::Error::other("zstd: truncated skippable frame"));
                        }
                        self.state = Some(ZState::Between(r));
                        continue;
                    }
                    r.head.extend_from_slice(&magic);
                    let d = ruzstd::decoding::StreamingDecoder::new(r)
                        .map_err(|e| io::Error::other(format!("zstd: {e}")))?;
                    self.state = Some(ZState::In(Box::new(d)));
                }
            }
        }
    }
}
