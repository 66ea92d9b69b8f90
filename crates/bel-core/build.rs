//! Compiles proto/bel/v1 with protox (no system protoc) into prost types plus
//! pbjson serde impls (the canonical proto3 JSON mapping).
use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let proto_file = proto_root.join("bel/v1/bel.proto");
    println!("cargo:rerun-if-changed={}", proto_file.display());

    let descriptors = protox::compile([&proto_file], [&proto_root])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let descriptor_bytes = descriptors.encode_to_vec();
    fs::write(out_dir.join("bel_descriptor.bin"), &descriptor_bytes)?;

    prost_build::Config::new().prost_types_path("::pbjson_types").compile_fds(descriptors)?;

    pbjson_build::Builder::new().register_descriptors(&descriptor_bytes)?.build(&[".bel.v1"])?;
    Ok(())
}
