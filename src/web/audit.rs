//! `GET /servers/{id}/audit`: the audit log of settings changes (product §13), read from the
//! table the slash commands (and any future dashboard setting) write through `db::settings_changes`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::pages::{allowed, bar, member_name, plain_mentions, tabs};
use super::views::{frame, PageError};
use super::Web;

/// How many changes the page lists (the newest).
const SHOWN: u32 = 200;

pub async fn audit(
    State(web): State<Web>,
    headers: HeaderMap,
    uri: Uri,
    Path(guild): Path<String>,
) -> Result<Response, PageError> {
    let allowed = allowed(&web, &headers, &uri, &guild).await?;
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
    let page = frame(
        &format!("{} · audit log", allowed.name),
        Some(&bar(&web, &allowed.session)),
        html! {
            h1 { (allowed.name) " · audit log" }
            (tabs(guild_id, "audit", ""))
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
