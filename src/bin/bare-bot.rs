//! The benchmark's ceiling: a bare poise bot on the same emulator, whose handler only counts the
//! replayed events (messages, reactions, joins). It prints `count N` once it has seen
//! `BARE_BOT_TARGET` of them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use poise::serenity_prelude as serenity;

struct Data {
    seen: AtomicU64,
    target: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let api =
        std::env::var("BARE_BOT_API").map_err(|_| "set BARE_BOT_API to the emulator's base URL")?;
    let target: u64 = std::env::var("BARE_BOT_TARGET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    let http = serenity::HttpBuilder::new("bench-token")
        .proxy(api)
        .ratelimiter_disabled(true)
        .build();
    let intents = serenity::GatewayIntents::GUILDS
        | serenity::GatewayIntents::GUILD_MEMBERS
        | serenity::GatewayIntents::GUILD_MESSAGES
        | serenity::GatewayIntents::GUILD_MESSAGE_REACTIONS;
    let data = Arc::new(Data {
        seen: AtomicU64::new(0),
        target,
    });
    let framework =
        poise::Framework::<Arc<Data>, Box<dyn std::error::Error + Send + Sync>>::builder()
            .options(poise::FrameworkOptions {
                initialize_owners: false,
                event_handler: |framework, event| {
                    Box::pin(async move {
                        let data = framework.user_data;
                        if let serenity::FullEvent::Message { .. }
                        | serenity::FullEvent::ReactionAdd { .. }
                        | serenity::FullEvent::GuildMemberAddition { .. } = event
                        {
                            let n = data.seen.fetch_add(1, Ordering::Relaxed) + 1;
                            if n == data.target {
                                println!("count {n}");
                            }
                        }
                        Ok(())
                    })
                },
                ..Default::default()
            })
            .setup(move |_ctx, _ready, _framework| {
                Box::pin(async move {
                    println!("ready");
                    Ok(data)
                })
            })
            .build();
    let mut client = serenity::ClientBuilder::new_with_http(http, intents)
        .framework(framework)
        .await?;
    client.start().await?;
    Ok(())
}
