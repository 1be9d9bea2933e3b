//! `terminate`: TerminateInstances, then wait until it is terminated.

use super::{Args, Runner, StepResult, Wait, arg, err};
use crate::domain::InstanceState;

impl Runner {
    pub(super) async fn terminate(&mut self, region: &str, args: &Args) -> StepResult {
        let id = arg(args, "instance");
        let state = self.cloud.terminate(region, &id).await.map_err(err)?;
        self.ledger.push(format!(
            "instance {id} terminated by this run: gone for good (its images stay)"
        ));
        self.say(&format!("{id}: {state}"));
        let wait = Wait::new(format!("{id} not terminated"));
        loop {
            match self.state_of(&id).await? {
                Some(InstanceState::Terminated) | None => break,
                Some(s) => self.say(&format!("{id}: {s}…")),
            }
            self.wait_until(&wait).await?;
        }
        self.say(&format!("{id} is terminated"));
        Ok(())
    }
}
