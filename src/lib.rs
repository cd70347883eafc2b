//! Hearth: a self-hosted Discord bot that does the daily work of a community manager.
//!
//! Dependencies point one way: `discord` → `outbox` → `db` → `domain`.

pub mod app;
pub mod charts;
pub mod cli;
pub mod config;
pub mod db;
#[cfg(feature = "emulator")]
pub mod demo;
pub mod discord;
pub mod domain;
pub mod error;
pub mod harness;
pub mod import;
pub mod ingest;
pub mod instance_lock;
pub mod monthly;
pub mod outbox;
pub mod rollup;
pub mod scheduler;
pub mod shoutout;
pub mod stats;
pub mod telemetry;
pub mod welcome;
