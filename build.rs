// refinery embeds migrations at compile time but cannot tell cargo about a
// newly added file, so rebuild whenever the folder changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
