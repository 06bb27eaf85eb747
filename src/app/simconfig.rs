//! A client configuration for a running simulator (`ipo-top sim --write-config DIR`): the
//! config file, a password file only its owner can read, and the simulator's CA, so that
//! `ipo-top --config DIR/config.toml check` works at once. Every file is written fresh, mode
//! 0600, never through a link left in its place; a directory made here is mode 0700.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// What a client needs to know about a simulator.
#[derive(Debug, Clone, Copy)]
pub struct SimAccess<'a> {
    /// Where it listens.
    pub listen: SocketAddr,
    /// Its service user.
    pub username: &'a str,
    /// The service user's password.
    pub password: &'a str,
    /// Its generated CA (PEM), when it generated one.
    pub ca_pem: Option<&'a str>,
    /// The SHA-256 fingerprint of its certificate.
    pub fingerprint: &'a str,
}

/// The files written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The configuration file.
    pub config: PathBuf,
    /// The password file (mode 0600).
    pub password: PathBuf,
    /// The CA file, if the simulator generated a CA.
    pub ca: Option<PathBuf>,
}

/// Writes `content` into a fresh private file at `path` (an older file or a link there is
/// replaced, so neither its mode nor its target lingers).
pub fn write_private(path: &Path, content: &str) -> io::Result<()> {
    let mut f = super::private::create_fresh(path).map_err(io::Error::other)?;
    f.write_all(content.as_bytes())?;
    f.write_all(b"\n")
}

/// Writes `config.toml`, `password` and `ca.pem` into `dir` (created mode 0700 if needed).
pub fn write(dir: &Path, sim: &SimAccess<'_>) -> io::Result<Written> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    // A simulator listening on every address is reached on the loopback address, which its
    // certificate names.
    let host = match sim.listen.ip() {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        a => a,
    };
    let password = dir.join("password");
    write_private(&password, sim.password)?;
    let (tls, ca) = match sim.ca_pem {
        Some(pem) => {
            let ca = dir.join("ca.pem");
            write_private(&ca, pem)?;
            (
                "# The simulator's generated certificate authority.\nca_file = \"ca.pem\"\n"
                    .to_owned(),
                Some(ca),
            )
        }
        None => (
            format!(
                "# The simulator's own certificate, pinned.\nfingerprint = \"{}\"\n",
                sim.fingerprint
            ),
            None,
        ),
    };
    let text = format!(
        "# ipo-top client configuration for the simulator at {listen}\n\
         # (written by `ipo-top sim --write-config`; see config.example.toml for every key).\n\n\
         [pbx]\n\
         host = \"{host}\"\n\
         port = {port}\n\
         username = \"{user}\"\n\
         password_file = \"password\"\n\n\
         [tls]\n\
         {tls}",
        listen = sim.listen,
        port = sim.listen.port(),
        user = sim.username.replace('\\', "\\\\").replace('"', "\\\""),
    );
    let config = dir.join("config.toml");
    write_private(&config, &text)?;
    Ok(Written {
        config,
        password,
        ca,
    })
}
