//! Private files: what `.baton/` holds (prompts, code, tool output, the state) is for
//! its user alone, whatever the umask. Directories are 0700, files 0600.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` and any missing parents below an existing directory, each 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Takes group and other permissions off `dir` and everything in it, except the
/// contents of the directories in `skip` (checkouts, which keep their own modes
/// inside a private directory). Symbolic links are left alone.
pub fn tighten(dir: &Path, skip: &[&Path]) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & !0o077))?;
    }
    if !meta.is_dir() {
        return Ok(());
    }
    if skip.contains(&dir) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        tighten(&entry?.path(), skip)?;
    }
    Ok(())
}
