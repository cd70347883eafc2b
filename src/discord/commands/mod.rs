//! Slash commands, one file per area; each exposes `commands()`.

pub mod ama;
pub mod apply;
mod config;
pub mod connect;
pub mod events;
mod feedback;
mod inbox;
mod intro;
pub mod moderation;
mod prompts;
mod spotlight;
mod stats;
pub mod surveys;
mod welcome;

use super::Command;

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
    all.extend(events::commands());
    all.extend(surveys::commands());
    all.extend(connect::commands());
    all.extend(moderation::commands());
    all.extend(inbox::commands());
    all
}
