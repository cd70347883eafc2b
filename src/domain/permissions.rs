//! Discord permission bits Hearth checks for, as plain `u64` (no serenity), and the names
//! Discord's client shows for them.

pub const MANAGE_ROLES: u64 = 1 << 28;
pub const VIEW_CHANNEL: u64 = 1 << 10;
pub const SEND_MESSAGES: u64 = 1 << 11;
pub const EMBED_LINKS: u64 = 1 << 14;
pub const ATTACH_FILES: u64 = 1 << 15;
pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
pub const MANAGE_EVENTS: u64 = 1 << 33;
/// Since February 2026 the only permission that lets a bot create scheduled events (and edit
/// or delete the ones it created); Manage Events alone no longer allows creating them.
pub const CREATE_EVENTS: u64 = 1 << 44;
pub const MANAGE_THREADS: u64 = 1 << 34;
pub const CREATE_PUBLIC_THREADS: u64 = 1 << 35;
pub const CREATE_PRIVATE_THREADS: u64 = 1 << 36;
pub const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;
pub const SEND_POLLS: u64 = 1 << 49;
pub const ADMINISTRATOR: u64 = 1 << 3;
pub const MANAGE_GUILD: u64 = 1 << 5;
pub const MANAGE_CHANNELS: u64 = 1 << 4;
/// Joining a voice channel; Discord requires it (with View Channel) in the channel of a voice
/// event the bot creates.
pub const CONNECT: u64 = 1 << 20;
pub const MUTE_MEMBERS: u64 = 1 << 22;
pub const MOVE_MEMBERS: u64 = 1 << 24;

/// Names as Discord's client shows them.
pub const NAMES: [(u64, &str); 17] = [
    (VIEW_CHANNEL, "View Channel"),
    (SEND_MESSAGES, "Send Messages"),
    (EMBED_LINKS, "Embed Links"),
    (ATTACH_FILES, "Attach Files"),
    (READ_MESSAGE_HISTORY, "Read Message History"),
    (CREATE_PUBLIC_THREADS, "Create Public Threads"),
    (CREATE_PRIVATE_THREADS, "Create Private Threads"),
    (SEND_MESSAGES_IN_THREADS, "Send Messages in Threads"),
    (MANAGE_THREADS, "Manage Threads"),
    (SEND_POLLS, "Create Polls"),
    (MANAGE_CHANNELS, "Manage Channels"),
    (CONNECT, "Connect"),
    (MUTE_MEMBERS, "Mute Members"),
    (MOVE_MEMBERS, "Move Members"),
    (MANAGE_ROLES, "Manage Roles"),
    (MANAGE_EVENTS, "Manage Events"),
    (CREATE_EVENTS, "Create Events"),
];
