//! Slash commands, one file per area; each exposes `commands()`.

mod config;

use super::Command;

/// Every command Hearth registers.
pub fn all() -> Vec<Command> {
    config::commands()
}
