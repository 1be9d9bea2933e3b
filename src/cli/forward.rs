//! `opsdeck forward`: a local port to a database, until Ctrl-C (the
//! console's `:forward`, in this terminal), and `__forward`, the relay the
//! sandbox forwards through (its servers listen on loopback already).

use super::headless::exit;
use crate::config::Config;
use crate::ops::Providers;
use crate::ops::session::{self, ForwardEnd};

/// `opsdeck forward DATABASE`: the same plan, refusals and journal record
/// as the console's; ends on Ctrl-C (0) or when the forward stops (1).
pub async fn forward(
    p: &Providers,
    config: &Config,
    database: &str,
    local_port: Option<u16>,
    confirm: Option<&str>,
    production_context: bool,
) -> anyhow::Result<u8> {
    let (inv, _) = crate::ops::load_inventory(p, config, true).await?;
    let Some(host) = inv.host_of_database(database) else {
        eprintln!(
            "opsdeck: no host is known to hold {database:?} (a tenant's database or a host's backups)"
        );
        return Ok(exit::USAGE);
    };
    let Some(instance) = inv.instances.iter().find(|i| i.id == host) else {
        eprintln!("opsdeck: {database} lives on {host}, which is not listed");
        return Ok(exit::USAGE);
    };
    if let Some(why) = instance.unreachable_reason() {
        eprintln!("opsdeck: refused: {why}");
        return Ok(exit::REFUSED);
    }
    let production = production_context
        || crate::runbook::database_is_production(&inv.tenants, database, instance.is_production());
    if production && confirm != Some(database) {
        eprintln!("opsdeck: refused: production: pass --confirm {database}");
        return Ok(exit::REFUSED);
    }
    let planned = session::destination(config, database)
        .and_then(|dest| session::plan_forward(p, instance, &dest, local_port));
    let (spec, change) = match planned {
        Ok(x) => x,
        Err(e) => {
            eprintln!("opsdeck: refused: {e}");
            return Ok(exit::REFUSED);
        }
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    // Ctrl-C or a TERM ends it, the forward's process group with it.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::spawn(async move {
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
        let _ = stop_tx.send(true);
    });
    let title = change.title();
    let begun = match crate::ops::actions::begin(p, &change, production) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return Ok(exit::FAILED);
        }
    };
    eprintln!("opsdeck: {title} (Ctrl-C ends it)");
    match session::run_forward(p, begun, &spec, &title, |l| eprintln!("{l}"), stop).await {
        Ok(ForwardEnd::Ended) => {
            eprintln!("opsdeck: forward ended");
            Ok(exit::SUCCEEDED)
        }
        Ok(ForwardEnd::Exited(c)) => {
            eprintln!("opsdeck: the forward stopped by itself (exit {c})");
            Ok(exit::FAILED)
        }
        Err(e) => {
            eprintln!("opsdeck: {e}");
            Ok(exit::FAILED)
        }
    }
}

/// `__forward LOCAL_PORT HOST:PORT`: relay every connection to 127.0.0.1:LOCAL_PORT.
pub async fn relay(local_port: u16, target: &str) -> anyhow::Result<u8> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", local_port)).await?;
    println!("Port {local_port} opened; relaying to {target}");
    loop {
        let (mut inbound, _) = listener.accept().await?;
        let target = target.to_string();
        tokio::spawn(async move {
            match tokio::net::TcpStream::connect(&target).await {
                Ok(mut outbound) => {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
                Err(e) => eprintln!("{target}: {e}"),
            }
        });
    }
}
