//! End-to-end scenarios: the real `hearth` binary against the project's Discord emulator.
//! One test binary (modules below) keeps linking time down.

mod ama;
mod analytics;
mod audit;
mod browser;
mod calendar;
mod common;
mod connect;
mod delivery;
mod demo;
mod events;
mod feedback;
mod foundation;
mod inbox;
mod installed;
mod moderation;
mod postgres;
mod recognition;
mod shards;
#[path = "../support/mod.rs"]
mod support;
mod surveys;
mod web;
mod welcome;
