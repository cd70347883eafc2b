//! `GET /servers/{id}/audit`: the audit log of settings changes (product §13), read from the
//! table the slash commands (and any future dashboard setting) write through `db::settings_changes`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::pages::{member_name, plain_mentions, Allowed};
use super::views::PageError;
use super::Web;

/// How many changes the page lists (the newest).
const SHOWN: u32 = 200;

pub async fn audit(State(web): State<Web>, allowed: Allowed) -> Result<Response, PageError> {
    let guild_id = allowed.guild_id;
    let tz = crate::features::settings::timezone(&web.pool, &web.config, guild_id).await?;
    let changes = crate::db::settings_changes::latest(&web.pool, guild_id, SHOWN).await?;
    let when = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let who = |user_id: u64| {
        if crate::db::privacy::is_anonymous(user_id) {
            "a forgotten member".to_owned()
        } else {
            member_name(&web, guild_id, user_id)
        }
    };
    let page = allowed.page(
        &web,
        ("audit", "audit log"),
        "",
        html! {
            p.small { "Every settings change, newest first (at most " (SHOWN) "), in " (tz.name()) " time. Refused commands change nothing and are not listed." }
            @if changes.is_empty() {
                p.notice { "No settings have changed since the audit log began." }
            } @else {
                table {
                    thead { tr { th { "when" } th { "who" } th { "from" } th { "setting" } th { "options" } } }
                    tbody {
                        @for change in &changes {
                            tr {
                                td { (when(change.changed_at)) }
                                td { (who(change.user_id)) }
                                td { @if change.source == "web" { "dashboard" } @else { "slash command" } }
                                td { code { "/" (change.setting) } }
                                td { (plain_mentions(&web, guild_id, tz, &change.detail)) }
                            }
                        }
                    }
                }
            }
        },
    );
    Ok(page.into_response())
}
