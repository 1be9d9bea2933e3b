//! Fleet commands over SSM: one SendCommand for up to 50 instances of one
//! region (MaxConcurrency and MaxErrors enforced by SSM), ListCommands for
//! the aggregate while it runs (one call, whatever the number of targets),
//! ListCommandInvocations with Details at the end (50 a page), and
//! GetCommandInvocation for a target whose output the listing cut. The
//! handle given back is `REGION/COMMAND-ID`.

use super::ssm::{SsmTransport, is_throttling};
use crate::transport::{
    Fleet, FleetInvocation, FleetProgress, FleetSend, InvocationState, TransportError,
};
use async_trait::async_trait;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::{CommandInvocationStatus as I, CommandStatus as C};
use std::sync::atomic::Ordering;

fn failed(what: &str, e: impl std::fmt::Display) -> TransportError {
    TransportError::Failed {
        host: "fleet".into(),
        message: format!("{what}: {e}"),
    }
}

impl SsmTransport {
    fn handle<'a>(&'a self, handle: &'a str) -> Result<(&'a Client, &'a str), TransportError> {
        let (region, id) = handle
            .split_once('/')
            .ok_or_else(|| failed("fleet command", format!("bad handle {handle}")))?;
        let client = self.client_in(region).ok_or_else(|| {
            failed(
                "fleet command",
                format!("no SSM client for region {region}"),
            )
        })?;
        Ok((client, id))
    }
}

#[async_trait]
impl Fleet for SsmTransport {
    fn partition(&self, host: &str) -> String {
        self.region_of(host)
    }

    async fn send(&self, req: &FleetSend) -> Result<String, TransportError> {
        let first = req
            .hosts
            .first()
            .ok_or_else(|| failed("SendCommand", "no target"))?;
        let region = self.region_of(first);
        let client = self.client(first)?;
        let mut attempt = 0;
        loop {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let mut send = client.send_command().document_name("AWS-RunShellScript");
            send = match &req.tag {
                Some((k, v)) => send.targets(
                    aws_sdk_ssm::types::Target::builder()
                        .key(format!("tag:{k}"))
                        .values(v)
                        .build(),
                ),
                None => send.set_instance_ids(Some(req.hosts.clone())),
            };
            let res = send
                .parameters("commands", vec![req.script.clone()])
                .parameters(
                    "executionTimeout",
                    vec![req.timeout.as_secs().max(1).to_string()],
                )
                .max_concurrency(req.max_concurrency.to_string())
                .max_errors(req.max_errors.to_string())
                .timeout_seconds(600)
                .comment(req.comment.chars().take(100).collect::<String>())
                .send()
                .await;
            match res {
                Ok(out) => {
                    let id = out
                        .command()
                        .and_then(|c| c.command_id())
                        .ok_or_else(|| failed("SendCommand", "no command id"))?;
                    return Ok(format!("{region}/{id}"));
                }
                Err(e) => {
                    let why = super::say(&e);
                    if is_throttling(e.code()) && attempt < 8 {
                        tokio::time::sleep(self.backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(failed("SendCommand", why));
                }
            }
        }
    }

    async fn progress(&self, handle: &str) -> Result<FleetProgress, TransportError> {
        let (client, id) = self.handle(handle)?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let out = client
            .list_commands()
            .command_id(id)
            .send()
            .await
            .map_err(|e| failed("ListCommands", super::say(&e)))?;
        let c = out
            .commands()
            .first()
            .ok_or_else(|| failed("ListCommands", format!("command {id} is not listed")))?;
        Ok(FleetProgress {
            completed: c.completed_count() as usize,
            errors: c.error_count() as usize,
            finished: matches!(
                c.status(),
                Some(C::Success | C::Failed | C::TimedOut | C::Cancelled)
            ),
        })
    }

    async fn invocations(&self, handle: &str) -> Result<Vec<FleetInvocation>, TransportError> {
        let (client, id) = self.handle(handle)?;
        let mut out = Vec::new();
        let mut token = None;
        loop {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let page = client
                .list_command_invocations()
                .command_id(id)
                .details(true)
                .max_results(50)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| failed("ListCommandInvocations", super::say(&e)))?;
            for inv in page.command_invocations() {
                let plugin = inv.command_plugins().first();
                let code = plugin.map(|p| p.response_code()).unwrap_or(-1);
                let started = plugin.is_some_and(|p| p.response_start_date_time().is_some());
                let state = match inv.status() {
                    Some(I::Success) => InvocationState::Success,
                    Some(I::Failed) => InvocationState::Failed(code),
                    Some(I::Cancelled) => InvocationState::Cancelled { started },
                    Some(I::TimedOut) => InvocationState::Error(format!(
                        "timed out ({})",
                        inv.status_details().unwrap_or("no details")
                    )),
                    Some(I::Pending | I::InProgress | I::Delayed | I::Cancelling) | None => {
                        InvocationState::Running
                    }
                    Some(other) => InvocationState::Error(format!("status {other:?}")),
                };
                out.push(FleetInvocation {
                    host: inv.instance_id().unwrap_or_default().to_string(),
                    state,
                    output: plugin
                        .and_then(|p| p.output())
                        .unwrap_or_default()
                        .to_string(),
                });
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn invocation(
        &self,
        handle: &str,
        host: &str,
    ) -> Result<FleetInvocation, TransportError> {
        let (client, id) = self.handle(handle)?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let o = client
            .get_command_invocation()
            .command_id(id)
            .instance_id(host)
            .send()
            .await
            .map_err(|e| failed("GetCommandInvocation", super::say(&e)))?;
        let state = match o.status() {
            Some(I::Success) => InvocationState::Success,
            Some(I::Failed) => InvocationState::Failed(o.response_code()),
            _ => InvocationState::Running,
        };
        Ok(FleetInvocation {
            host: host.into(),
            state,
            output: o.standard_output_content().unwrap_or_default().to_string(),
        })
    }

    async fn cancel(&self, handle: &str) -> Result<(), TransportError> {
        let (client, id) = self.handle(handle)?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        client
            .cancel_command()
            .command_id(id)
            .send()
            .await
            .map_err(|e| failed("CancelCommand", super::say(&e)))?;
        Ok(())
    }
}
