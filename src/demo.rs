//! `hearth demo` (written against the emulator API).

pub async fn run(_out: Option<std::path::PathBuf>) -> i32 {
    0
}
