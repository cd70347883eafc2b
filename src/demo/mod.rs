//! `hearth demo`: the real bot (this same binary, as a child process running `hearth run`)
//! against the built-in Discord emulator, playing a short scripted community. Needs no token and
//! no network; prints a transcript of what the bot did and writes it to `--out`. The community
//! has a generated past (`history`), so the statistics show what Hearth is for.
//!
//! `harness` drives a `hearth run` child process; the tests and the benchmark use it too.

pub mod harness;
#[cfg(feature = "emulator")]
mod history;
#[cfg(feature = "emulator")]
mod play;

#[cfg(feature = "emulator")]
pub use play::run;
