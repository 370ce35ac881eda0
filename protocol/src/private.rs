//! Private files: what `.baton/` holds (prompts, code, tool output, the state) is for
//! its user alone, whatever the umask. Directories are 0700, files 0600.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::OnceLock;

/// The umask the process was started with, before [`make_everything_private`].
static STARTED_WITH: OnceLock<libc::mode_t> = OnceLock::new();

/// Makes every file and directory this process creates from now on private (0600,
/// 0700), whatever the umask it was started with: each log, snapshot, archive and
/// database file the daemon writes is then private from its first byte, with no
/// place left that must remember to ask. Answers the umask it was started with.
pub fn make_everything_private() -> libc::mode_t {
    // SAFETY: umask only swaps this process's file mode mask.
    let started_with = unsafe { libc::umask(0o077) };
    *STARTED_WITH.get_or_init(|| started_with)
}

/// The umask the process was started with: what the programs it starts (git, the
/// agents, the verify command) get back, so that what they write in the user's
/// checkout has the modes the user's own commands give it.
pub fn started_umask() -> Option<libc::mode_t> {
    STARTED_WITH.get().copied()
}

/// Creates `dir` and any missing parents below an existing directory, each 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Takes group and other permissions off `dir` and everything in it, except the
/// contents of the directories in `skip` (checkouts, which keep their own modes
/// inside a private directory, and the agents' configurations, which link to the
/// user's). A symbolic link is refused: baton writes what it keeps only in files of
/// its own, never wherever a link someone left there points. So is a named pipe, a
/// device or a socket: opening one of them for a file of its own would wait forever.
pub fn tighten(dir: &Path, skip: &[&Path]) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Err(link_refused(dir));
    }
    if !meta.is_file() && !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is not a regular file or directory (a named pipe, device or socket); \
                 baton keeps its state only in files of its own: remove it and run again",
                dir.display()
            ),
        ));
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

/// The error for a symbolic link where baton keeps its own files, saying what to do.
pub fn link_refused(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is a symbolic link; baton keeps its state only in files of its own: remove \
             the link (what it points to stays as it is) and run again",
            path.display()
        ),
    )
}
