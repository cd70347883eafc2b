//! Errors shown to users versus errors logged for operators.

use std::fmt;

/// A failure the user can fix (bad argument, missing setup): shown to them as it is, ephemerally.
#[derive(Debug)]
pub struct UserError(pub String);

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

/// A command-line argument that cannot work (exit code 2), e.g. `--from` after `--to`.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns early from a command with a message for the user.
pub fn user_error<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(UserError(message.into()).into())
}

/// Turns `None`/`Err` into a [`UserError`] with the given message.
pub trait OrUser<T> {
    fn or_user(self, message: impl Into<String>) -> anyhow::Result<T>;
}

impl<T> OrUser<T> for Option<T> {
    fn or_user(self, message: impl Into<String>) -> anyhow::Result<T> {
        self.ok_or_else(|| UserError(message.into()).into())
    }
}

impl<T, E> OrUser<T> for Result<T, E> {
    fn or_user(self, message: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|_| UserError(message.into()).into())
    }
}

/// A short id shown to the user and written to the log next to an internal error, so the two
/// can be matched without showing internals to members.
pub fn reference_id() -> String {
    use rand::Rng;
    format!("{:06x}", rand::thread_rng().gen_range(0..0x100_0000))
}

/// Process exit codes (product §1).
pub mod exit {
    pub const OK: i32 = 0;
    pub const RUNTIME: i32 = 1;
    pub const USAGE: i32 = 2;
}
