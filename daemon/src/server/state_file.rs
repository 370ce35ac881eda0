//! State files: the reference's CoordinationState as JSON, written atomically and
//! read whole before anything changes.

use std::io::Write;
use std::path::{Path, PathBuf};

use baton_protocol::{BatonError, CoordinationState, Workspace};

/// The longest path Linux opens, in bytes.
const PATH_LIMIT: usize = 4096;

/// A state file path as the user gave it: relative paths are taken from the
/// workspace root (the CLI sends absolute paths). One no file can have is refused
/// here, so that no message quotes it whole.
pub fn resolve(workspace: &Path, path: &str) -> Result<PathBuf, BatonError> {
    if path.len() > PATH_LIMIT {
        return Err(BatonError::invalid(format!(
            "the state file's path is {} bytes, over the {PATH_LIMIT} a path may have: {}",
            path.len(),
            crate::core::excerpt(path, 60)
        )));
    }
    Ok(workspace.join(path))
}

/// Refuses a path among the daemon's own files in the workspace's `.baton/` (its
/// store, check record, lock, snapshots, logs, agents' and worktrees' directories): a
/// save there would replace one of them. A file of the user's own in `.baton/` is
/// fine.
pub fn refuse_daemon_files(workspace: &Path, path: &Path) -> Result<(), BatonError> {
    let (Ok(workspace), Some(Ok(parent)), Some(name)) = (
        Workspace::at(workspace),
        path.parent().map(Path::canonicalize),
        path.file_name(),
    ) else {
        return Ok(());
    };
    let target = parent.join(name);
    let files = [
        workspace.store_check(),
        workspace.daemon_lock(),
        workspace.daemon_json(),
    ];
    let directories = [
        workspace.store_dir(),
        workspace.snapshots_dir(),
        workspace.log_dir(),
        workspace.agents_dir(),
        workspace.worktrees_dir(),
        workspace.history_dir(),
    ];
    let daemon_s = files.contains(&target)
        || directories
            .iter()
            .any(|directory| target.starts_with(directory));
    if daemon_s {
        return Err(BatonError::invalid(format!(
            "{} is one of the daemon's own files in {}; save somewhere else (nothing was written)",
            path.display(),
            workspace.state_dir().display()
        )));
    }
    Ok(())
}

/// Writes to a temporary file beside `path`, syncs, then renames over it, so a crash
/// leaves either the old file or the new one.
pub fn write(path: &Path, state: &CoordinationState) -> Result<(), BatonError> {
    // The temporary file's name means nothing to the user (and is gone): an error
    // says what went wrong with `path`, by its kind alone.
    let failed = |err: std::io::Error| {
        BatonError::invalid(format!(
            "cannot write the state to {}: {}; nothing was written",
            path.display(),
            std::io::Error::from(err.kind())
        ))
    };
    // The file is replaced by a rename: a device, pipe or link there would be
    // replaced rather than written to.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.is_file() {
            return Err(BatonError::invalid(format!(
                "{} is not a regular file (a link, directory, device or pipe); save to a file; nothing was written",
                path.display()
            )));
        }
    }
    let directory = path.parent().unwrap_or(Path::new("."));
    // Named after the file it becomes, so that one a crash leaves says whose it was.
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".saving")
        .tempfile_in(directory)
        .map_err(failed)?;
    serde_json::to_writer_pretty(&mut file, state).map_err(|err| failed(err.into()))?;
    file.write_all(b"\n").map_err(failed)?;
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map_err(|err| failed(err.error))?;
    Ok(())
}

/// Reads and parses a whole state file. Checking what it says is the core's job.
pub fn read(path: &Path) -> Result<CoordinationState, BatonError> {
    let bytes = baton_protocol::regular_file::read(path, baton_protocol::regular_file::LIMIT)
        .map_err(|err| {
            BatonError::invalid(format!(
                "cannot read the state file {}: {err}; nothing was changed",
                path.display()
            ))
        })?;
    // Editors on Windows begin a UTF-8 file with a byte order mark.
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    serde_json::from_slice(bytes).map_err(|err| {
        BatonError::invalid(format!(
            "{} is not a baton state file (as `baton save` writes): {err}; nothing was changed",
            path.display()
        ))
    })
}
