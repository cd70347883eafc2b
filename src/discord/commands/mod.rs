//! Slash commands, one file per area; each exposes `commands()`.

pub mod ama;
pub mod apply;
mod config;
mod feedback;
mod intro;
mod prompts;
mod spotlight;
mod stats;
mod welcome;

use super::{Command, Context, Error};
use crate::error::OrUser;

/// Every command Hearth registers.
pub fn all() -> Vec<Command> {
    let mut all = config::commands();
    all.extend(welcome::commands());
    all.extend(intro::commands());
    all.extend(apply::commands());
    all.extend(prompts::commands());
    all.extend(stats::commands());
    all.extend(spotlight::commands());
    all.extend(feedback::commands());
    all.extend(ama::commands());
    all
}

/// The guild a guild-only command runs in.
fn guild_id(ctx: Context<'_>) -> Result<u64, Error> {
    Ok(ctx
        .guild_id()
        .or_user("This command only works in a server.")?
        .get())
}
