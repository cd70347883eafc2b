//! The `hearth` binary: see `hearth --help` and the README.

fn main() {
    std::process::exit(hearth::cli::main());
}
