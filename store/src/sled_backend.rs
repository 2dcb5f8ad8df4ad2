//! The embedded [`LogBackend`]: one sled database in the data directory, a tree per keyspace,
//! and an explicit `fdatasync` of sled's data file as the durability barrier (sled 0.34's
//! `flush()` on Linux only calls `sync_file_range`, which is not one: `docs/storage.md`).

use std::any::Any;
use std::fs::File;
use std::path::Path;

use crate::backend::{Bytes, Entry, Keyspace, LogBackend};
use crate::error::StoreError;

/// The log's sled database.
pub struct SledBackend {
    db: sled::Db,
    blocks: sled::Tree,
    tiles: sled::Tree,
    checkpoints: sled::Tree,
    meta: sled::Tree,
    /// sled's data file, opened by us so [`LogBackend::sync`] can `fsync` it (`None` for a
    /// temporary database in tests).
    data_file: Option<File>,
}

impl SledBackend {
    /// Opens (creating if missing) the sled database in `dir`.
    pub(crate) fn open(
        dir: &Path,
        sled_config: &sled::Config,
        lock_wait: std::time::Duration,
    ) -> Result<SledBackend, StoreError> {
        guarded(|| {
            let db = crate::sled_open::open_sled(sled_config, dir, lock_wait)?;
            let data_file = File::options().read(true).write(true).open(dir.join("db"))?;
            SledBackend::with_db(db, Some(data_file))
        })
    }

    /// A database that lives in memory and a temporary file, for tests.
    #[cfg(test)]
    pub(crate) fn temporary() -> SledBackend {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .expect("a temporary sled database");
        SledBackend::with_db(db, None).expect("trees of a temporary database")
    }

    fn with_db(db: sled::Db, data_file: Option<File>) -> Result<SledBackend, StoreError> {
        Ok(SledBackend {
            blocks: db.open_tree("log")?,
            tiles: db.open_tree("merkle")?,
            checkpoints: db.open_tree("checkpoints")?,
            meta: db.open_tree("meta")?,
            db,
            data_file,
        })
    }

    fn tree(&self, space: Keyspace) -> &sled::Tree {
        match space {
            Keyspace::Blocks => &self.blocks,
            Keyspace::Tiles => &self.tiles,
            Keyspace::Checkpoints => &self.checkpoints,
            Keyspace::Meta => &self.meta,
        }
    }

    /// The sled tree of blocks, for tests that damage the store behind its back.
    #[doc(hidden)]
    pub fn blocks_tree(&self) -> &sled::Tree {
        &self.blocks
    }
}

/// Runs a sled call, turning sled's `Corruption` and its panics (it panics on some damaged
/// pages instead of answering `Corruption`) into [`StoreError::Damaged`].
fn guarded<T>(call: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(Err(StoreError::Sled(error @ sled::Error::Corruption { .. }))) => Err(StoreError::Damaged {
            reason: format!("its database found damaged data ({error})"),
        }),
        Ok(result) => result,
        Err(panic) => Err(StoreError::Damaged {
            reason: format!(
                "its database failed reading its own files ({})",
                crate::sled_open::panic_message(panic.as_ref())
            ),
        }),
    }
}

impl LogBackend for SledBackend {
    fn get(&self, space: Keyspace, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        guarded(|| Ok(self.tree(space).get(key)?))
    }

    fn last_at_or_below(&self, space: Keyspace, key: &[u8]) -> Result<Option<Entry>, StoreError> {
        guarded(|| Ok(self.tree(space).range(..=key).next_back().transpose()?))
    }

    fn last(&self, space: Keyspace) -> Result<Option<Entry>, StoreError> {
        guarded(|| Ok(self.tree(space).last()?))
    }

    fn range<'a>(
        &'a self,
        space: Keyspace,
        from: &[u8],
        to: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a> {
        let tree = self.tree(space);
        let entries = match to {
            Some(to) => tree.range(from.to_vec()..to.to_vec()),
            None => tree.range(from.to_vec()..),
        };
        let mut entries = entries.fuse();
        let mut failed = false;
        Box::new(std::iter::from_fn(move || {
            if failed {
                return None;
            }
            let next = guarded(|| entries.next().transpose().map_err(StoreError::from)).transpose();
            failed = matches!(next, Some(Err(StoreError::Damaged { .. })));
            next
        }))
    }

    fn put_batch(&self, space: Keyspace, entries: &[(&[u8], &[u8])]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for &(key, value) in entries {
            batch.insert(key, value);
        }
        guarded(|| Ok(self.tree(space).apply_batch(batch)?))
    }

    fn clear(&self, space: Keyspace) -> Result<(), StoreError> {
        self.tree(space).clear()?;
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        guarded(|| Ok(self.db.flush().map(drop)?))?;
        if let Some(file) = &self.data_file {
            file.sync_data()?;
        }
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
