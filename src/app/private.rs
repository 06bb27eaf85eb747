//! Files on a shared machine (a jump box many supervisors log in to): what ipo-top writes is
//! created mode 0600 in directories mode 0700 that belong to the user running it, never
//! through a symbolic link someone else planted, and what it reads as a secret (the password
//! file) is opened once and checked on the open handle, so it cannot be swapped between the
//! check and the read.
//!
//! Every refusal names the path and what to do about it.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// A file or directory that is not safe to use.
#[derive(Debug, thiserror::Error)]
pub enum PrivateError {
    /// It could not be created, opened or examined.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It is a symbolic link where a file of our own is expected.
    #[error(
        "{path} is a symbolic link; refused (it could point anywhere): remove the link, or \
         point the setting at the file itself"
    )]
    Link {
        /// The path.
        path: PathBuf,
    },
    /// It is not the kind of thing expected (a directory, a regular file).
    #[error("{path} is not a {expected}; refused")]
    Kind {
        /// The path.
        path: PathBuf,
        /// "directory" or "regular file".
        expected: &'static str,
    },
    /// It belongs to another user, who could read or change it.
    #[error(
        "{path} belongs to user id {owner}, not to you (user id {us}); refused: use a file or \
         directory of your own, or (as its owner) chown {us} {path}"
    )]
    NotOurs {
        /// The path.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The user running ipo-top.
        us: u32,
    },
    /// Others may read or write it.
    #[error("{path} can be used by others (mode {mode:04o}); refused. Run: chmod {want:o} {path}")]
    Open {
        /// The path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The mode it should have (600 or 700).
        want: u32,
    },
}

impl PrivateError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> PrivateError + '_ {
        move |source| {
            if is_link_refusal(&source) {
                PrivateError::Link {
                    path: path.to_owned(),
                }
            } else {
                PrivateError::Io {
                    path: path.to_owned(),
                    source,
                }
            }
        }
    }
}

/// Whether opening failed because the last component is a link and `O_NOFOLLOW` was given
/// (Linux says ELOOP, the BSDs EMLINK).
#[cfg(unix)]
fn is_link_refusal(e: &io::Error) -> bool {
    e.raw_os_error().is_some_and(|c| {
        c == rustix::io::Errno::LOOP.raw_os_error() || c == rustix::io::Errno::MLINK.raw_os_error()
    })
}

#[cfg(not(unix))]
fn is_link_refusal(_: &io::Error) -> bool {
    false
}

/// The user id ipo-top runs as (the effective one: it decides what the process can open).
#[cfg(unix)]
fn our_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Checks what was opened or found at `path` (`meta` from the open handle or the directory):
/// the kind, the owner, and that no group or other bits are set.
#[cfg(unix)]
fn check_private(
    path: &Path,
    meta: &std::fs::Metadata,
    expected: &'static str,
    want: u32,
) -> Result<(), PrivateError> {
    use std::os::unix::fs::MetadataExt;
    let kind_ok = if want == 0o700 {
        meta.is_dir()
    } else {
        meta.is_file()
    };
    if !kind_ok {
        return Err(PrivateError::Kind {
            path: path.to_owned(),
            expected,
        });
    }
    let us = our_uid();
    if meta.uid() != us {
        return Err(PrivateError::NotOurs {
            path: path.to_owned(),
            owner: meta.uid(),
            us,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(PrivateError::Open {
            path: path.to_owned(),
            mode,
            want,
        });
    }
    Ok(())
}

/// Makes `dir` (and what is missing above it) mode 0700, then checks that it is a directory
/// of ours that nobody else can use. A directory that already exists is not changed: one that
/// belongs to someone else or is open to others is refused.
pub fn private_dir(dir: &Path) -> Result<(), PrivateError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(PrivateError::io(dir))?;
    #[cfg(unix)]
    {
        let meta = std::fs::metadata(dir).map_err(PrivateError::io(dir))?;
        check_private(dir, &meta, "directory", 0o700)?;
    }
    Ok(())
}

/// ipo-top's own directory (the state or data directory it names itself): as
/// [`private_dir`], except that one of ours open to others (made by an older version with the
/// umask's mode) is closed to them, with a warning, rather than refused.
pub fn own_dir(dir: &Path) -> Result<(), PrivateError> {
    match private_dir(dir) {
        #[cfg(unix)]
        Err(PrivateError::Open { .. }) => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(PrivateError::io(dir))?;
            tracing::warn!(dir = %dir.display(), "ipo-top's directory was open to others: now 0700");
            private_dir(dir)
        }
        other => other,
    }
}

/// The directory a file at `path` goes in, made private ([`private_dir`]); none for a bare
/// file name (the current directory, the user's choice).
pub fn private_parent(path: &Path) -> Result<(), PrivateError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => private_dir(dir),
        None => Ok(()),
    }
}

/// Options that never follow a link in the last component, and create mode 0600.
fn no_follow(opts: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Bits, not a type: OpenOptionsExt takes the C flag word.
        #[allow(clippy::cast_possible_wrap)]
        let flags = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
        opts.custom_flags(flags).mode(0o600);
    }
    opts
}

/// Opens the file at `path` for appending, creating it mode 0600 if needed, never through a
/// link; an existing file must be ours, and loses any group or other bits it had.
pub fn open_append(path: &Path) -> Result<File, PrivateError> {
    let file = no_follow(OpenOptions::new().create(true).append(true))
        .open(path)
        .map_err(PrivateError::io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = file.metadata().map_err(PrivateError::io(path))?;
        match check_private(path, &meta, "regular file", 0o600) {
            // Ours: closed to others through the handle, so nothing can be swapped in.
            Err(PrivateError::Open { .. }) => file
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(PrivateError::io(path))?,
            other => other?,
        }
    }
    Ok(file)
}

/// Opens a secret at `path` for reading, once, never through a link (nor blocking on a pipe
/// put there), and checks the open handle: a regular file of ours that nobody else can read.
pub fn open_secret(path: &Path) -> Result<File, PrivateError> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        #[allow(clippy::cast_possible_wrap)]
        let flags = (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32;
        opts.custom_flags(flags);
    }
    let file = opts.open(path).map_err(PrivateError::io(path))?;
    #[cfg(unix)]
    {
        // File::metadata is fstat on the handle: what is checked is what is read.
        let meta = file.metadata().map_err(PrivateError::io(path))?;
        check_private(path, &meta, "regular file", 0o600)?;
    }
    Ok(file)
}

/// Creates a fresh file at `path`, mode 0600: whatever was there (a file, a link) is removed
/// first, never followed, and the exclusive create refuses anything put there since.
pub fn create_fresh(path: &Path) -> Result<File, PrivateError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(PrivateError::io(path)(e)),
    }
    no_follow(OpenOptions::new().write(true).create_new(true))
        .open(path)
        .map_err(PrivateError::io(path))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    #[test]
    fn directories_are_made_private_and_open_ones_are_refused() {
        let t = tempfile::tempdir().expect("a temporary directory");
        let dir = t.path().join("state").join("ipo-top");
        private_dir(&dir).expect("made");
        assert_eq!((mode(&dir), mode(&t.path().join("state"))), (0o700, 0o700));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("mode");
        let e = private_dir(&dir).expect_err("refused").to_string();
        assert!(e.contains("mode 0755") && e.contains("chmod 700"), "{e}");
        assert!(e.contains(&dir.display().to_string()), "{e}");
        // ipo-top's own directory, left open by an older version: closed, not refused.
        own_dir(&dir).expect("tightened");
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn appending_never_follows_a_link_and_closes_an_open_file() {
        let t = tempfile::tempdir().expect("a temporary directory");
        let victim = t.path().join("victim");
        std::fs::write(&victim, "keep").expect("written");
        let path = t.path().join("audit.jsonl");
        std::os::unix::fs::symlink(&victim, &path).expect("linked");
        let e = open_append(&path).expect_err("refused");
        assert!(matches!(e, PrivateError::Link { .. }), "{e}");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&victim).ok().as_deref(),
            Some("keep")
        );

        let path = t.path().join("log");
        let mut f = open_append(&path).expect("created");
        f.write_all(b"one\n").expect("written");
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("mode");
        drop(open_append(&path).expect("reopened"));
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_secret_is_checked_on_the_handle_it_is_read_from() {
        let t = tempfile::tempdir().expect("a temporary directory");
        let path = t.path().join("pw");
        std::fs::write(&path, "hunter2").expect("written");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("mode");
        let e = open_secret(&path).expect_err("refused").to_string();
        assert!(e.contains("mode 0640") && e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("mode");
        let mut text = String::new();
        open_secret(&path)
            .and_then(|mut f| f.read_to_string(&mut text).map_err(PrivateError::io(&path)))
            .expect("read");
        assert_eq!(text, "hunter2");
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&path, &link).expect("linked");
        assert!(matches!(open_secret(&link), Err(PrivateError::Link { .. })));
        // Someone else's file is refused even when it is closed to others; only root can make
        // one to test with.
        if our_uid() == 0 {
            rustix::fs::chown(&path, Some(rustix::fs::Uid::from_raw(65534)), None)
                .expect("chowned");
            let e = open_secret(&path).expect_err("refused").to_string();
            assert!(e.contains("belongs to user id 65534"), "{e}");
        }
    }

    #[test]
    fn a_fresh_file_replaces_a_planted_link() {
        let t = tempfile::tempdir().expect("a temporary directory");
        let victim = t.path().join("victim");
        std::fs::write(&victim, "keep").expect("written");
        let path = t.path().join("ca.pem");
        std::os::unix::fs::symlink(&victim, &path).expect("linked");
        create_fresh(&path)
            .and_then(|mut f| f.write_all(b"pem").map_err(PrivateError::io(&path)))
            .expect("written");
        assert_eq!(
            std::fs::read_to_string(&victim).ok().as_deref(),
            Some("keep")
        );
        assert_eq!(mode(&path), 0o600);
    }
}
