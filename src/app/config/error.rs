//! What is wrong with a configuration file and where: the error type, and the positions,
//! sections and keys of the file's text that its messages name.

use std::fmt;
use std::path::{Path, PathBuf};

use toml::Spanned;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// There is no file where we looked.
    #[error("no configuration file at {path}: {hint}")]
    Missing {
        /// Where we looked.
        path: PathBuf,
        /// What to do.
        hint: &'static str,
    },
    /// No configuration directory could be determined and no `--config` was given.
    #[error("cannot tell where the configuration lives (no home directory?); pass --config PATH")]
    NoDefaultPath,
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A key is unknown, missing or has a bad value.
    #[error("{location}: {key}: {message}")]
    Invalid {
        /// `file:line:column`, or the file alone.
        location: String,
        /// The key, with its section (`pbx.port`).
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

/// Positions in the file's text, for messages.
pub(super) struct Source<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl Source<'_> {
    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let col = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        (line, col)
    }

    pub(super) fn location(&self, offset: Option<usize>) -> String {
        match offset {
            Some(o) => {
                let (line, col) = self.line_col(o);
                format!("{}:{line}:{col}", self.path.display())
            }
            None => self.path.display().to_string(),
        }
    }

    /// The `[section]` in force at `offset` (including a header on the offset's own line).
    pub(super) fn section_at(&self, offset: usize) -> Option<String> {
        let end = self
            .text
            .get(offset..)
            .and_then(|rest| rest.find('\n'))
            .map_or(self.text.len(), |i| offset + i);
        let upto = self.text.get(..end).unwrap_or(self.text);
        upto.lines().rev().find_map(|l| {
            let l = l.trim();
            let inner = l.strip_prefix('[')?.split(']').next()?;
            let name = inner.trim().trim_matches('[').trim();
            (!name.is_empty()).then(|| name.to_owned())
        })
    }

    /// The key written on the line at `offset` (`key = value`), if any.
    pub(super) fn key_on_line(&self, offset: usize) -> Option<String> {
        let start = self
            .text
            .get(..offset)
            .and_then(|b| b.rfind('\n'))
            .map_or(0, |i| i + 1);
        let line = self.text.get(start..)?.lines().next()?;
        let (k, _) = line.split_once('=')?;
        let k = k.trim().trim_matches('"');
        (!k.is_empty() && !k.starts_with('#')).then(|| k.to_owned())
    }

    pub(super) fn qualified(&self, offset: usize, key: &str) -> String {
        match self.section_at(offset) {
            // An unknown section is reported on its own header line.
            Some(s) if s == key => key.to_owned(),
            Some(s) if !key.contains('.') => format!("{s}.{key}"),
            _ => key.to_owned(),
        }
    }

    /// An integer setting that converts to `T` and passes `valid`; otherwise `message` at its
    /// place in the file.
    pub(super) fn number<T: TryFrom<i64>>(
        &self,
        span: &Spanned<i64>,
        key: &str,
        valid: impl Fn(&T) -> bool,
        message: &str,
    ) -> Result<T, ConfigError> {
        T::try_from(*span.get_ref())
            .ok()
            .filter(valid)
            .ok_or_else(|| self.invalid(span, key, message))
    }

    /// A port setting, `default` when absent.
    pub(super) fn port(
        &self,
        port: Option<&Spanned<i64>>,
        key: &str,
        default: u16,
    ) -> Result<u16, ConfigError> {
        match port {
            None => Ok(default),
            Some(p) => self.number(
                p,
                key,
                |p| *p != 0,
                "expected a port number from 1 to 65535",
            ),
        }
    }

    pub(super) fn invalid<T>(
        &self,
        span: &Spanned<T>,
        key: &str,
        message: impl fmt::Display,
    ) -> ConfigError {
        ConfigError::Invalid {
            location: self.location(Some(span.span().start)),
            key: key.to_owned(),
            message: message.to_string(),
        }
    }

    pub(super) fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let offset = e.span().map(|s| s.start);
        let msg = e.message().trim().to_owned();
        // serde names an unknown key in its message; otherwise the key is on the error's line.
        let named = msg
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        let missing = msg
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        let key = match (named, missing, offset) {
            (Some(k), _, Some(o)) => self.qualified(o, &k),
            (Some(k), _, None) => k,
            (None, Some(k), Some(o)) => match self.section_at(o) {
                Some(s) => format!("{s}.{k}"),
                None => k,
            },
            (None, Some(k), None) => k,
            (None, None, Some(o)) => match self.key_on_line(o) {
                Some(k) => self.qualified(o, &k),
                None => self.section_at(o).unwrap_or_else(|| "(file)".to_owned()),
            },
            (None, None, None) => "(file)".to_owned(),
        };
        let message = if msg.starts_with("unknown field") {
            format!(
                "unknown key; {}",
                msg.split_once(", ")
                    .map_or("see config.example.toml for the keys", |(_, rest)| rest)
            )
        } else if msg.starts_with("missing field") {
            "required, but missing (see config.example.toml)".to_owned()
        } else {
            msg
        };
        ConfigError::Invalid {
            location: self.location(offset),
            key,
            message,
        }
    }
}
