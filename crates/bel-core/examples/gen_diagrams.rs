//! Writes docs/state-diagrams.md from the diagram tables (a test fails when it is stale).
fn main() -> std::io::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/state-diagrams.md");
    std::fs::write(&path, bel_core::diagram::diagrams_markdown())?;
    println!("wrote {}", path.display());
    Ok(())
}
