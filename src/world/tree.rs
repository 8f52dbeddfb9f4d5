//! An in-memory filesystem tree: the index of a container image's layers (each file points
//! at its bytes inside a layer) and the volumes a Kubernetes manifest mounts (Secret and
//! ConfigMap files held in memory). Paths are relative, without a leading `/`, as bytes.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// Where the bytes of a file are.
#[derive(Debug, Clone)]
pub enum Content {
    /// Held in memory (small files of compressed layers, Secret/ConfigMap data).
    Bytes(Arc<[u8]>),
    /// `len` bytes at `offset` of the decompressed stream of layer `layer`.
    Layer { layer: usize, offset: u64, len: u64 },
    /// Written at run time by something the tool cannot see (an init container into a
    /// shared emptyDir): the content is unknown.
    Unknown(Arc<str>),
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    File(Content),
    Dir,
    Symlink(Vec<u8>),
    /// A device, FIFO or socket.
    Other,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub mode: u32,
}

impl Node {
    pub fn dir(mode: u32) -> Node {
        Node {
            kind: NodeKind::Dir,
            mode,
        }
    }

    /// The file's size (a symlink's: its target's length).
    pub fn size(&self) -> u64 {
        match &self.kind {
            NodeKind::File(Content::Bytes(b)) => b.len() as u64,
            NodeKind::File(Content::Layer { len, .. }) => *len,
            NodeKind::Symlink(t) => t.len() as u64,
            _ => 0,
        }
    }
}

/// The tree: every node by its relative path (`""` is the root directory).
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: BTreeMap<Vec<u8>, Node>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new()
    }
}

fn child_key(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(dir.len() + 1 + name.len());
    if !dir.is_empty() {
        k.extend_from_slice(dir);
        k.push(b'/');
    }
    k.extend_from_slice(name);
    k
}

/// The first key after every descendant of `p` (`p/…` sorts before `p0`).
fn after_subtree(p: &[u8]) -> Vec<u8> {
    let mut k = p.to_vec();
    k.push(b'/' + 1);
    k
}

impl Tree {
    pub fn new() -> Tree {
        let mut nodes = BTreeMap::new();
        nodes.insert(Vec::new(), Node::dir(0o755));
        Tree { nodes }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    pub fn get(&self, p: &[u8]) -> Option<&Node> {
        self.nodes.get(p)
    }

    /// Insert a node, creating missing parent directories, replacing a non-directory
    /// parent by a directory, and dropping the subtree of a directory replaced by a
    /// non-directory.
    pub fn insert(&mut self, p: &[u8], node: Node) {
        self.ensure_parents(p);
        if !matches!(node.kind, NodeKind::Dir) {
            self.remove_descendants(p);
        } else if let Some(old) = self.nodes.get_mut(p) {
            if matches!(old.kind, NodeKind::Dir) {
                old.mode = node.mode;
                return;
            }
        }
        self.nodes.insert(p.to_vec(), node);
    }

    fn ensure_parents(&mut self, p: &[u8]) {
        let mut i = 0;
        while let Some(off) = p[i..].iter().position(|b| *b == b'/') {
            let parent = &p[..i + off];
            match self.nodes.get(parent) {
                Some(Node {
                    kind: NodeKind::Dir, ..
                }) => {}
                _ => {
                    self.nodes.insert(parent.to_vec(), Node::dir(0o755));
                }
            }
            i += off + 1;
        }
    }

    /// Remove `p` and everything under it.
    pub fn remove(&mut self, p: &[u8]) {
        self.nodes.remove(p);
        self.remove_descendants(p);
    }

    /// Remove everything under `p` (an opaque directory), keeping `p`.
    pub fn remove_descendants(&mut self, p: &[u8]) {
        let keys: Vec<Vec<u8>> = if p.is_empty() {
            self.nodes.keys().filter(|k| !k.is_empty()).cloned().collect()
        } else {
            let mut lo = p.to_vec();
            lo.push(b'/');
            self.nodes
                .range::<[u8], _>((Bound::Included(&lo[..]), Bound::Excluded(&after_subtree(p)[..])))
                .map(|(k, _)| k.clone())
                .collect()
        };
        for k in keys {
            self.nodes.remove(&k);
        }
    }

    /// The names of the direct children of directory `p`, sorted.
    pub fn children(&self, p: &[u8]) -> Vec<Vec<u8>> {
        let lo = if p.is_empty() {
            Vec::new()
        } else {
            child_key(p, b"")
        };
        let hi = if p.is_empty() {
            None
        } else {
            Some(after_subtree(p))
        };
        let mut out = Vec::new();
        let mut cursor: Bound<Vec<u8>> = Bound::Included(lo.clone());
        loop {
            let range = match &hi {
                Some(h) => self
                    .nodes
                    .range::<[u8], _>((cursor.as_ref().map(|v| &v[..]), Bound::Excluded(&h[..]))),
                None => self
                    .nodes
                    .range::<[u8], _>((cursor.as_ref().map(|v| &v[..]), Bound::Unbounded)),
            };
            let mut next = None;
            for (k, _) in range {
                if k.len() <= lo.len() {
                    continue;
                }
                let rest = &k[lo.len()..];
                match rest.iter().position(|b| *b == b'/') {
                    None => out.push(rest.to_vec()),
                    Some(i) => {
                        // A descendant of a child directory (listed just before its
                        // subtree, and names like `ssl-x` sort between `ssl` and `ssl/`):
                        // skip the whole subtree in one jump
                        // (`insert` creates every parent, so the child itself was listed.)
                        next = Some(after_subtree(&k[..lo.len() + i]));
                        break;
                    }
                }
            }
            match next {
                Some(n) => cursor = Bound::Included(n),
                None => break,
            }
        }
        out
    }

    /// Every node (for whole-tree comparisons in tests and for hard links).
    pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Node)> {
        self.nodes.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(s: &str) -> Node {
        Node {
            kind: NodeKind::File(Content::Bytes(Arc::from(s.as_bytes()))),
            mode: 0o644,
        }
    }

    #[test]
    fn children_skip_subtrees_and_sort() {
        let mut t = Tree::new();
        t.insert(b"etc/ssl/certs/a.pem", file("a"));
        t.insert(b"etc/ssl/certs/b.pem", file("b"));
        t.insert(b"etc/ssl/openssl.cnf", file("c"));
        t.insert(b"etc/ssl-x", file("x"));
        t.insert(b"etc/hosts", file("h"));
        assert_eq!(t.children(b""), vec![b"etc".to_vec()]);
        assert_eq!(
            t.children(b"etc"),
            vec![b"hosts".to_vec(), b"ssl".to_vec(), b"ssl-x".to_vec()]
        );
        assert_eq!(
            t.children(b"etc/ssl"),
            vec![b"certs".to_vec(), b"openssl.cnf".to_vec()]
        );
        t.remove_descendants(b"etc/ssl");
        assert!(t.children(b"etc/ssl").is_empty());
        assert!(t.get(b"etc/ssl-x").is_some());
        t.remove(b"etc");
        assert!(t.children(b"").is_empty());
    }

    #[test]
    fn a_file_over_a_directory_drops_its_subtree() {
        let mut t = Tree::new();
        t.insert(b"a/b/c", file("c"));
        t.insert(b"a", file("a"));
        assert!(t.get(b"a/b").is_none());
        t.insert(b"a/d", file("d"));
        assert!(matches!(t.get(b"a").unwrap().kind, NodeKind::Dir));
    }
}
