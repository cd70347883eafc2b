//! The audit log of settings changes (`settings_changes`): who, when, from where, what.

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id};

/// Where a change was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A slash command in Discord.
    Slash,
    /// The web dashboard.
    Web,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slash => "slash",
            Self::Web => "web",
        }
    }

    /// The stored text back (the table's CHECK allows only these two).
    fn from_stored(text: &str) -> Self {
        if text == "web" {
            Self::Web
        } else {
            Self::Slash
        }
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    pub id: i64,
    pub user_id: u64,
    pub changed_at: i64,
    pub source: Source,
    /// What was changed, named as its command (`config timezone`).
    pub setting: String,
    /// The options given (`name: Europe/Berlin`).
    pub detail: String,
}

/// A change to record.
#[derive(Debug, Clone, Copy)]
pub struct NewChange<'a> {
    pub guild_id: u64,
    pub user_id: u64,
    pub changed_at: i64,
    pub source: Source,
    pub setting: &'a str,
    pub detail: &'a str,
}

pub async fn record(db: impl AnyExecutor<'_>, change: &NewChange<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO settings_changes (guild_id, user_id, changed_at, source, setting, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(to_sql_id(change.guild_id))
    .bind(to_sql_id(change.user_id))
    .bind(change.changed_at)
    .bind(change.source.as_str())
    .bind(change.setting)
    .bind(change.detail)
    .execute(db)
    .await?;
    Ok(())
}

/// A guild's latest changes, newest first.
pub async fn latest(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    limit: u32,
) -> sqlx::Result<Vec<SettingChange>> {
    let rows: Vec<(i64, i64, i64, String, String, String)> = sqlx::query_as(
        "SELECT id, user_id, changed_at, source, setting, detail FROM settings_changes
         WHERE guild_id = $1 ORDER BY changed_at DESC, id DESC LIMIT $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, user_id, changed_at, source, setting, detail)| SettingChange {
                id,
                user_id: from_sql_id(user_id),
                changed_at,
                source: Source::from_stored(&source),
                setting,
                detail,
            },
        )
        .collect())
}

/// The changes a member made (for `/privacy export`), oldest first, with their guild.
pub async fn made_by(
    db: impl AnyExecutor<'_>,
    guild_id: Option<u64>,
    user_id: u64,
) -> sqlx::Result<Vec<(u64, SettingChange)>> {
    let rows: Vec<(i64, i64, i64, String, String, String)> = sqlx::query_as(
        "SELECT guild_id, id, changed_at, source, setting, detail FROM settings_changes
         WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2) ORDER BY changed_at, id",
    )
    .bind(to_sql_id(user_id))
    .bind(guild_id.map(to_sql_id))
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(guild, id, changed_at, source, setting, detail)| {
            (
                from_sql_id(guild),
                SettingChange {
                    id,
                    user_id,
                    changed_at,
                    source: Source::from_stored(&source),
                    setting,
                    detail,
                },
            )
        })
        .collect())
}
