//! Rebuilds the server when a dashboard asset changes: `include_dir!` embeds `assets/` but cannot tell cargo
//! about the files it read (that needs the unstable `tracked_path`), so without this an edited `.js` or `.css`
//! file would keep being served from the previous build.

fn main() {
    println!("cargo:rerun-if-changed=assets");
}
