//! Starts an emulator with a seeded guild, prints its base URL and ids, and runs until Ctrl-C.
//! Point a bot at it with `HttpBuilder::new(token).proxy(base_url).ratelimiter_disabled(true)`.

use discord_emulator::Emulator;

/// Every permission except ADMINISTRATOR.
const BOT_PERMISSIONS: u64 = ((1 << 51) - 1) & !(1 << 3);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let emu = Emulator::start().await?;
    let guild = emu.add_guild("Emulated Guild", BOT_PERMISSIONS);
    let general = emu.add_channel(guild, "general", 0);
    let welcome = emu.add_channel(guild, "welcome", 0);
    let forum = emu.add_channel(guild, "feedback", 15);
    emu.add_channel(guild, "Lounge", 2);
    let alice = emu.add_user("alice", false);
    let bob = emu.add_user("bob", false);
    emu.add_member(guild, alice, &[]);
    emu.add_member(guild, bob, &[]);
    println!("{}", emu.base_url());
    println!(
        "application {} bot {} guild {guild} #general {general} #welcome {welcome} forum {forum} users alice {alice} bob {bob}",
        emu.application_id(),
        emu.bot_user_id()
    );
    tokio::signal::ctrl_c().await?;
    let violations = emu.violations();
    if !violations.is_empty() {
        eprintln!("{} spec violation(s):", violations.len());
        for v in violations {
            eprintln!("  {v}");
        }
    }
    emu.shutdown().await;
    Ok(())
}
