//! Compiles `proto/mtcti3.proto` with a pure-Rust protobuf compiler (protox), so a build
//! needs no system `protoc`. The encoded descriptor set is kept beside the generated code
//! so tests can check the schema's field numbers and types against the wire facts.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/mtcti3.proto");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(["proto/mtcti3.proto"], ["proto"])?;
    std::fs::write(
        out.join("mtcti3.descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
