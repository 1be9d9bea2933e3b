//! What lives in this process: another context opened (`:ctx`), port
//! forwards (up until ended from Runs or the console quits).

use super::{EffectsRunner, Providers, fail};
use crate::jobs::engine::{RunEvent, RunHandle, RunId};
use crate::tui::app::Msg;

impl EffectsRunner {
    /// Open context `name`; the providers are swapped when it opened.
    pub(super) fn switch_context(&self, name: String) {
        let tx = self.tx.clone();
        let title = format!("switch to context {name}");
        let Some(opener) = self.opener.clone() else {
            return fail(&tx, title, "this console cannot open other contexts");
        };
        let slot = self.providers.clone();
        tokio::spawn(async move {
            match opener(name.clone()).await {
                Ok((providers, ctx, config)) => {
                    if let Ok(mut s) = slot.write() {
                        *s = providers;
                    }
                    let _ = tx.send(Msg::ContextOpened {
                        ctx,
                        config: Box::new(config),
                    });
                }
                Err(e) => fail(&tx, title, e),
            }
        });
    }

    /// A local port to a database through its host, kept until ended.
    pub(super) fn start_forward(
        &mut self,
        p: Providers,
        id: RunId,
        instance: Box<crate::domain::Instance>,
        dest: crate::ops::session::Destination,
        local_port: Option<u16>,
        production: bool,
    ) {
        let tx = self.tx.clone();
        let (handle, stop) = RunHandle::new(id.clone());
        self.forwards.insert(id.clone(), handle);
        let run_tx = self.run_tx.clone();
        tokio::spawn(async move {
            let what = format!("forward to {}", dest.database);
            let fail = |e: String| fail(&tx, what.clone(), e);
            // Starting the sandbox's server may take a moment.
            let planned = {
                let (p, i, dest) = (p.clone(), instance.clone(), dest.clone());
                tokio::task::spawn_blocking(move || {
                    crate::ops::session::plan_forward(&p, &i, &dest, local_port)
                })
                .await
            };
            let (spec, change) = match planned {
                Ok(Ok(x)) => x,
                Ok(Err(e)) => return fail(e.to_string()),
                Err(e) => return fail(e.to_string()),
            };
            let title = change.title();
            let begun = match crate::ops::actions::begin_as(
                &p,
                &change,
                production,
                Some(id.clone().into()),
            ) {
                Ok(b) => b,
                Err(e) => return fail(e.to_string()),
            };
            let _ = tx.send(Msg::ForwardStarted {
                id: id.clone(),
                title: title.clone(),
                host: instance.id.clone(),
                production,
            });
            let _ = run_tx.send(RunEvent::Started {
                run: id.clone(),
                host: instance.id.clone(),
                pid: 0,
            });
            let lines = run_tx.clone();
            let run = id.clone();
            let ended = crate::ops::session::run_forward(
                &p,
                begun,
                &spec,
                &title,
                move |l| {
                    let _ = lines.send(RunEvent::Output {
                        run: run.clone(),
                        text: format!("{l}\n"),
                    });
                },
                stop,
            )
            .await;
            let _ = run_tx.send(match ended {
                Ok(crate::ops::session::ForwardEnd::Ended) => RunEvent::Cancelled {
                    run: id,
                    exit_code: 0,
                },
                Ok(crate::ops::session::ForwardEnd::Exited(c)) => RunEvent::Finished {
                    run: id,
                    exit_code: c,
                },
                Err(error) => RunEvent::Failed {
                    run: id,
                    error: error.to_string(),
                },
            });
        });
    }
}
