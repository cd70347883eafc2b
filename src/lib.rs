//! Hearth: a self-hosted Discord bot that does the daily work of a community manager.
//!
//! Imports point one way, down this list (a module uses only those below it):
//!
//! - `app`, `cli`: wiring and the command line.
//! - `discord`: the only module that knows poise/serenity: gateway events, interaction routing,
//!   commands (parse, check, call a feature, render) and embeds.
//! - `web`: the dashboard for managers (axum, maud): login with Discord, pages over `features`;
//!   it reaches Discord only through its `Directory` trait, which `discord` implements.
//! - `scheduler`: the loop that runs due jobs and the housekeeping tasks; it calls features.
//! - `features`: one module per feature (welcome, prompts, stats, ...): the logic, testable
//!   without Discord.
//! - `outbox`: reliable delivery of the bot's posts: the queue, the worker, the REST sink and
//!   the wire bodies of posts.
//! - `db`: all SQL.
//! - `config`, `error`, `telemetry`, `instance_lock`: the process's settings and plumbing.
//! - `domain`: pure logic (no I/O, no clock of its own, no config, no Discord).
//!
//! `demo` (the scripted demo and the child-process harness the tests share) sits beside `app`.

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod discord;
pub mod domain;
pub mod error;
pub mod features;
pub mod instance_lock;
pub mod outbox;
pub mod scheduler;
pub mod telemetry;
pub mod web;
