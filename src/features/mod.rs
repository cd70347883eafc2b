//! What Hearth does for a community, one module per feature. A feature owns its logic and its
//! scheduled jobs; it reads and writes through `db`, decides through `domain` and posts through
//! the `outbox`. It never imports `discord`: commands and event handlers call into features, not
//! the other way round. A new feature lands here as one more module.

pub mod activity;
pub mod ama;
pub mod applications;
pub mod calendar;
pub mod connections;
pub mod events;
pub mod feedback;
pub mod guilds;
pub mod import;
pub mod inbox;
pub mod intros;
pub mod moderation;
pub mod prompts;
pub mod recognition;
pub mod reports;
pub mod rollup;
pub mod settings;
pub mod stats;
pub mod surveys;
pub mod welcome;
