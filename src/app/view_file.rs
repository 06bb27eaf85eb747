//! The narrowing and sort the supervisor chose, kept between runs in the state directory
//! (`view.json`). A missing file is the defaults; a corrupt one is ignored with a logged
//! warning, never a crash. The file is written private (0600) and never through a link.

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

/// Keeps `view` at `path`: written to a new private file beside it, then renamed over it,
/// so a link there is replaced, never followed, and a reader never sees half a file.
pub fn save(path: &Path, view: &ViewState) -> io::Result<()> {
    let text = serde_json::to_string_pretty(view).map_err(io::Error::other)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    // A leftover from a crashed run of the same id is removed (a link itself, never what
    // it points to); `create_new` then refuses anything put there since.
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
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
