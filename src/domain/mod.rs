//! Pure domain logic: no I/O, no Discord, no database. Everything here takes `now` as a parameter
//! and is unit-tested next to its code.

pub mod analytics;
pub mod clock;
pub mod connectedness;
pub mod connections;
pub mod database;
pub mod delivery;
pub mod doctor;
pub mod events;
pub mod feedback;
pub mod ical;
pub mod import;
pub mod inbox;
pub mod moderation;
pub mod permissions;
pub mod prompt;
pub mod raid;
pub mod ratelimit;
pub mod recognition;
pub mod rollup;
pub mod schedule;
pub mod settings;
pub mod shards;
pub mod surveys;
pub mod template;
