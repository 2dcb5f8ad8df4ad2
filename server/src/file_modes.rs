//! The data directory is private to the service's user: directories 0700, files 0600.
//!
//! Every file govrec writes holds personal data or what guards it (`personal.dat`, the log's
//! and the models' databases, the open state, `tokens.json`, the signing and snapshot keys).
//! [`private_umask`] makes everything the process creates from then on private, whatever
//! umask it was started with; [`tighten`] fixes what an older govrec (or a copy, or a hand)
//! left readable by others, and says what it changed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// How deep [`tighten`] walks (the data directory holds `log/`, `models/`, their sled files
/// and the snapshot keys' folder: three levels).
const DEPTH_MAX: usize = 6;

/// Sets the process's umask to 077: files are created 0600 and directories 0700.
pub fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Removes the group's and others' permission bits from `dir` and everything under it; returns
/// the paths it changed. A missing directory changes nothing.
pub fn tighten(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    if dir.exists() {
        tighten_at(dir, 0, &mut changed)?;
    }
    Ok(changed)
}

fn tighten_at(path: &Path, depth: usize, changed: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let metadata = std::fs::symlink_metadata(path)?;
    if metadata.file_type().is_symlink() {
        return Ok(());
    }
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        changed.push(path.to_owned());
    }
    if metadata.is_dir() && depth < DEPTH_MAX {
        for entry in std::fs::read_dir(path)? {
            tighten_at(&entry?.path(), depth + 1, changed)?;
        }
    }
    Ok(())
}
