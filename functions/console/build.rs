//! Compiles the console's build output (`console/dist`, from `npm run build` in `console/`) into
//! the binary: the page and each asset as static bytes. Without a build (a machine without
//! Node.js), the function serves a placeholder page that says how to build it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dist = manifest.join("../../console/dist");
    // A new build (or its removal) rebuilds this crate. While `dist` is missing this reruns on
    // every build, which costs one small crate.
    println!("cargo:rerun-if-changed={}", dist.display());
    let page = dist.join("index.html");
    let mut out = String::new();
    if page.is_file() {
        writeln!(out, "pub const PAGE: Option<&str> = Some(include_str!({:?}));", path(&page)).unwrap();
    } else {
        out.push_str("pub const PAGE: Option<&str> = None;\n");
    }
    out.push_str("pub static ASSETS: &[crate::Asset] = &[\n");
    let mut assets: Vec<PathBuf> = std::fs::read_dir(dist.join("assets"))
        .map(|dir| dir.filter_map(|entry| entry.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    assets.sort();
    for asset in assets {
        let name = asset.file_name().and_then(|n| n.to_str()).expect("asset names are UTF-8");
        // Source maps stay out of the deployment.
        if name.ends_with(".map") {
            continue;
        }
        writeln!(out, "    crate::Asset {{ name: {name:?}, body: include_bytes!({:?}) }},", path(&asset)).unwrap();
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("embedded.rs");
    std::fs::write(target, out).expect("writing embedded.rs");
}

fn path(path: &Path) -> String {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}
