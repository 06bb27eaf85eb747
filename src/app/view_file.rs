//! The narrowing and sort the supervisor chose, kept between runs in the state directory
//! (`view.json`). A missing file is the defaults; a corrupt one is ignored with a logged
//! warning, never a crash. The file is written private (0600), in a directory of the user's
//! own (0700), and never through a link.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::ui::ViewState;

/// The file's name in the state directory.
pub const FILE: &str = "view.json";

/// Where the file lives: the state directory logs go to.
pub fn path() -> Option<PathBuf> {
    super::logging::state_dir().map(|d| d.join(FILE))
}

/// The view state kept at `path`: the defaults when there is none or it cannot be read.
pub fn load(path: &Path) -> ViewState {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return ViewState::default(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "view state not read; defaults used");
            return ViewState::default();
        }
    };
    serde_json::from_str(&text).unwrap_or_else(|e| {
        tracing::warn!(path = %path.display(), error = %e, "view state is corrupt; ignored");
        ViewState::default()
    })
}

/// Keeps `view` at `path`: written to a fresh private file beside it (an unpredictable name,
/// created exclusively), then renamed over it, so a link there is replaced, never followed,
/// and a reader never sees half a file. A directory that is someone else's or open to others
/// is refused.
pub fn save(path: &Path, view: &ViewState) -> io::Result<()> {
    let text = serde_json::to_string_pretty(view).map_err(io::Error::other)?;
    match path.parent() {
        // ipo-top's own state directory, closed to others if an older version left it open.
        Some(d) if super::logging::state_dir().as_deref() == Some(d) => {
            super::private::own_dir(d).map_err(io::Error::other)?;
        }
        _ => super::private::private_parent(path).map_err(io::Error::other)?,
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".view")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.write_all(b"\n")?;
    tmp.as_file().sync_all()?;
    // On failure the temporary file is removed when dropped.
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::rows::{AgentOrder, AgentSort};

    /// A fresh directory of this test's own, removed at the end.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("ipo-top-view-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("a temporary directory");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let private = std::fs::Permissions::from_mode(0o700);
                std::fs::set_permissions(&dir, private).expect("made private");
            }
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_saved_view_is_read_back_private_and_a_corrupt_one_is_ignored() {
        let dir = Dir::new("read-back");
        let path = dir.0.join("state").join(FILE);
        assert_eq!(load(&path), ViewState::default());
        let view = ViewState {
            narrow_waiting: true,
            narrow_agents: true,
            agents: AgentOrder {
                sort: AgentSort::Name,
                reverse: true,
            },
        };
        save(&path, &view).expect("saved");
        assert_eq!(load(&path), view);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600));
        }
        std::fs::write(&path, "{ not json").expect("written");
        assert_eq!(load(&path), ViewState::default());
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_open_to_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = Dir::new("open");
        let state = dir.0.join("state");
        std::fs::create_dir(&state).expect("made");
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).expect("mode");
        let e = save(&state.join(FILE), &ViewState::default()).expect_err("refused");
        assert!(e.to_string().contains("chmod 700"), "{e}");
        assert!(!state.join(FILE).exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_in_its_place_is_replaced_not_followed() {
        let dir = Dir::new("link");
        let target = dir.0.join("elsewhere");
        std::fs::write(&target, "keep").expect("written");
        let path = dir.0.join(FILE);
        std::os::unix::fs::symlink(&target, &path).expect("linked");
        save(&path, &ViewState::default()).expect("saved");
        assert_eq!(
            std::fs::read_to_string(&target).ok().as_deref(),
            Some("keep")
        );
        assert_eq!(load(&path), ViewState::default());
    }
}
