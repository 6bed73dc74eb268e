//! The result cache (`--cache-dir`): content-addressed entries for chunk results and whole
//! outputs, shared safely by any number of llpar processes.
//!
//! Architecture invariant: a hit gives exactly the bytes the work would have produced. A key
//! is the SHA-256 of everything the result depends on: the work's input bytes, the options that
//! shape it, and the identity of llpar (its executable's hash) and of LLVM (its version), so a
//! rebuilt llpar never reads an older one's entries. An entry carries the hash of its contents;
//! one that does not match (a damaged disk, a truncated copy) is removed and counts as a miss.
//! Entries appear by `rename` of a finished temporary file, so a reader never sees half of one.
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// What starts every entry, before the hash of its contents.
const MAGIC: &[u8] = b"llpar-cache-1\n";
/// Temporary files older than this belong to a process that died before renaming them.
const STALE_TEMPORARY: Duration = Duration::from_secs(3600);

/// A cache directory and its size cap.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    max_size: u64,
    /// Entries found damaged and removed during this process.
    damaged: AtomicU64,
}

/// The key of an entry: a SHA-256 digest, in hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key(String);

/// Builds a key from fields, each length-prefixed so that no two field lists feed the same bytes.
pub struct KeyBuilder(Sha256);

impl KeyBuilder {
    /// A key of `kind` (chunk, module), salted with the identity of llpar and of LLVM.
    pub fn new(kind: &str, llvm_version: &str) -> KeyBuilder {
        KeyBuilder(Sha256::new())
            .field(executable_identity())
            .field(llvm_version.as_bytes())
            .field(kind.as_bytes())
    }

    pub fn field(mut self, bytes: &[u8]) -> KeyBuilder {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    pub fn finish(self) -> Key {
        Key(hex(&self.0.finalize()))
    }
}

/// The SHA-256 of the running executable, which holds llpar's code: options and formats may
/// change between builds, so a build never trusts another's entries.
fn executable_identity() -> &'static [u8] {
    static UNKNOWN: OnceLock<Vec<u8>> = OnceLock::new();
    match executable_digest() {
        Some((hash, _)) => hash,
        // Without its own bytes, llpar keys on a value no other process shares: every
        // lookup misses, nothing wrong is ever read.
        None => UNKNOWN.get_or_init(|| {
            format!("unknown {} {:?}", std::process::id(), SystemTime::now()).into_bytes()
        }),
    }
}

/// llpar's running executable: its SHA-256 and size, computed once per process. Cache keys
/// start with it, and remote actions name by it the executable they run. `None` if it cannot
/// be read.
pub(crate) fn executable_digest() -> Option<&'static ([u8; 32], u64)> {
    static DIGEST: OnceLock<Option<([u8; 32], u64)>> = OnceLock::new();
    DIGEST
        .get_or_init(|| {
            let bytes = std::env::current_exe().and_then(std::fs::read).ok()?;
            Some((Sha256::digest(&bytes).into(), bytes.len() as u64))
        })
        .as_ref()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Cache {
    /// Opens (creating it if needed) the cache in `dir`, with entries pruned beyond `max_size`.
    pub fn open(dir: &Path, max_size: u64) -> Result<Cache, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the cache directory {}: {e}", dir.display()))?;
        Ok(Cache {
            dir: dir.to_path_buf(),
            max_size,
            damaged: AtomicU64::new(0),
        })
    }

    fn path(&self, key: &Key) -> PathBuf {
        self.dir.join(&key.0[..2]).join(&key.0[2..])
    }

    /// The parts stored under `key`, if there is an intact entry. A damaged one is removed.
    pub fn get(&self, key: &Key) -> Option<Vec<Vec<u8>>> {
        let path = self.path(key);
        let bytes = std::fs::read(&path).ok()?;
        match decode(&bytes) {
            Some(parts) => {
                // Pruning removes the entries used least recently: a hit makes this one recent.
                if let Ok(file) = std::fs::File::options().write(true).open(&path) {
                    let _ = file.set_modified(SystemTime::now());
                }
                Some(parts)
            }
            None => {
                self.damaged.fetch_add(1, Ordering::Relaxed);
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores `parts` under `key`. A cache is an optimization: a failure to write is ignored,
    /// and the next run computes the result again.
    pub fn put(&self, key: &Key, parts: &[&[u8]]) {
        let _ = self.try_put(key, parts);
    }

    fn try_put(&self, key: &Key, parts: &[&[u8]]) -> std::io::Result<()> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let path = self.path(key);
        std::fs::create_dir_all(path.parent().expect("entries live in a subdirectory"))?;
        let temporary = self.dir.join(format!(
            "tmp-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = std::fs::File::create(&temporary)
            .and_then(|mut file| file.write_all(&encode(parts)))
            .and_then(|()| std::fs::rename(&temporary, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written
    }

    /// How many damaged entries this process found (and removed).
    pub fn damaged(&self) -> u64 {
        self.damaged.load(Ordering::Relaxed)
    }

    /// Removes entries, least recently used first, until the cache holds at most its cap, and
    /// temporary files that a dead process left behind.
    pub fn prune(&self) {
        let mut entries = Vec::new();
        let now = SystemTime::now();
        for (path, modified, _, is_dir) in read_dir(&self.dir) {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if is_dir {
                entries.extend(read_dir(&path).into_iter().filter(|e| !e.3));
            } else if name.starts_with("tmp-")
                && now.duration_since(modified).unwrap_or_default() > STALE_TEMPORARY
            {
                let _ = std::fs::remove_file(&path);
            }
        }
        let mut total: u64 = entries.iter().map(|e| e.2).sum();
        entries.sort_by_key(|e| e.1);
        for (path, _, size, _) in entries {
            if total <= self.max_size {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= size;
            }
        }
    }
}

/// The entries of `dir`: path, modification time, size, whether it is a directory.
fn read_dir(dir: &Path) -> Vec<(PathBuf, SystemTime, u64, bool)> {
    let Ok(items) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    items
        .filter_map(|item| {
            let item = item.ok()?;
            let meta = item.metadata().ok()?;
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            Some((item.path(), modified, meta.len(), meta.is_dir()))
        })
        .collect()
}

/// An entry: `MAGIC`, the SHA-256 of the rest, then each part with its length before it.
fn encode(parts: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(&(part.len() as u64).to_le_bytes());
        body.extend_from_slice(part);
    }
    let mut entry = MAGIC.to_vec();
    entry.extend_from_slice(&Sha256::digest(&body));
    entry.append(&mut body);
    entry
}

/// The parts of an entry, or `None` if it is not intact.
fn decode(entry: &[u8]) -> Option<Vec<Vec<u8>>> {
    let rest = entry.strip_prefix(MAGIC)?;
    let (digest, mut body) = (rest.get(..32)?, rest.get(32..)?);
    if Sha256::digest(body).as_slice() != digest {
        return None;
    }
    let mut parts = Vec::new();
    while !body.is_empty() {
        let len = u64::from_le_bytes(body.get(..8)?.try_into().ok()?) as usize;
        parts.push(body.get(8..8 + len)?.to_vec());
        body = &body[8 + len..];
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_damage_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), 1 << 30).unwrap();
        let key = KeyBuilder::new("test", "22").field(b"input").finish();
        assert_eq!(cache.get(&key), None);
        cache.put(&key, &[b"result", b"", b"remarks"]);
        let parts = cache.get(&key).unwrap();
        assert_eq!(
            parts,
            vec![b"result".to_vec(), Vec::new(), b"remarks".to_vec()]
        );
        let path = cache.path(&key);
        let mut bytes = std::fs::read(&path).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(cache.get(&key), None);
        assert_eq!(cache.damaged(), 1);
        assert!(!path.exists(), "a damaged entry is removed");
    }

    #[test]
    fn fields_are_length_prefixed() {
        let a = KeyBuilder::new("k", "22").field(b"ab").field(b"c").finish();
        let b = KeyBuilder::new("k", "22").field(b"a").field(b"bc").finish();
        assert_ne!(a, b);
    }

    #[test]
    fn pruning_removes_the_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), 2500).unwrap();
        let keys: Vec<Key> = (0..3u8)
            .map(|i| KeyBuilder::new("test", "22").field(&[i]).finish())
            .collect();
        for (i, key) in keys.iter().enumerate() {
            cache.put(key, &[&[0u8; 1000]]);
            let old = SystemTime::now() - Duration::from_secs(100 - i as u64 * 10);
            let file = std::fs::File::options()
                .write(true)
                .open(cache.path(key))
                .unwrap();
            file.set_modified(old).unwrap();
        }
        assert!(
            cache.get(&keys[0]).is_some(),
            "a hit makes the oldest entry recent"
        );
        cache.prune();
        assert!(cache.get(&keys[0]).is_some());
        assert!(!cache.path(&keys[1]).exists());
        assert!(cache.get(&keys[2]).is_some());
    }
}
