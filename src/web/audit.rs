//! `GET /servers/{id}/audit`: the audit log of settings changes (product §13), read from the
//! table the slash commands (and any future dashboard setting) write through `db::settings_changes`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::pages::{member_name, plain_mentions, Allowed};
use super::views::{local_time, PageError};
use super::Web;
use crate::db::settings_changes::Source;

/// How many changes the page lists (the newest).
const SHOWN: u32 = 200;

pub async fn audit(State(web): State<Web>, allowed: Allowed) -> Result<Response, PageError> {
    let guild_id = allowed.guild_id;
    let tz = crate::features::settings::timezone(&web.pool, &web.config, guild_id).await?;
    let changes = crate::db::settings_changes::latest(&web.pool, guild_id, SHOWN).await?;
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
                                td.when { (local_time(change.changed_at, tz)) }
                                td { (who(change.user_id)) }
                                td { @match change.source { Source::Web => "dashboard", Source::Slash => "slash command" } }
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
