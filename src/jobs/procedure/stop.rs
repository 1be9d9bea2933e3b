//! `stop`: StopInstances unless the instance is stopped, terminated or
//! gone already, then wait until it is stopped.

use super::{Args, Runner, StepResult, Stop, Wait, arg, err};
use crate::domain::InstanceState;

impl Runner {
    /// Its state now (`None`: EC2 does not list it).
    pub(super) async fn state_of(&self, id: &str) -> Result<Option<InstanceState>, Stop> {
        let list = self.cloud.instances().await.map_err(err)?;
        Ok(list.iter().find(|i| i.id == id).map(|i| i.state))
    }

    pub(super) async fn stop(&mut self, args: &Args) -> StepResult {
        let id = arg(args, "instance");
        let was = match self.state_of(&id).await? {
            None => {
                self.say(&format!("{id} is not listed: nothing to stop"));
                return Ok(());
            }
            Some(s @ (InstanceState::Stopped | InstanceState::Terminated)) => {
                self.say(&format!("{id} is {s}: nothing to stop"));
                return Ok(());
            }
            Some(s) => s,
        };
        let said = self.cloud.set_running(&id, false).await.map_err(err)?;
        self.ledger.push(format!(
            "instance {id} stopped by this run (it was {was}; start it again from Instances, or keep it stopped)"
        ));
        self.say(&format!("{id}: {said}"));
        let wait = Wait::new(format!("{id} not stopped"));
        loop {
            let now = self.state_of(&id).await?;
            if let Some(s @ (InstanceState::Stopped | InstanceState::Terminated)) = now {
                self.say(&format!("{id} is {s}"));
                return Ok(());
            }
            let s = now.map_or("not listed", InstanceState::as_str);
            self.say(&format!("{id}: {s}…"));
            self.wait_until(&wait).await?;
        }
    }
}
