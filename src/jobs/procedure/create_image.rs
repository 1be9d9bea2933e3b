//! `create-image`: CreateImage of an instance (no reboot), then wait for
//! the image to be available. Gives `image`.

use super::{Args, Runner, StepResult, Wait, arg, err};
use crate::provider::ErrorKind;
use crate::provider::machines::ImageState;
use std::time::Duration;

/// How long a new image may be not described yet (EC2 is eventually
/// consistent).
const NOT_DESCRIBED_FOR: Duration = Duration::from_secs(120);

impl Runner {
    pub(super) async fn create_image(&mut self, region: &str, args: &Args) -> StepResult {
        let (instance, name) = (arg(args, "instance"), arg(args, "name"));
        let id = self
            .cloud
            .create_image(region, &instance, &name)
            .await
            .map_err(err)?;
        self.ledger.push(format!(
            "image {id} ({name}) of {instance}: made by this run; keep it (it is a backup) or deregister it and delete its snapshots"
        ));
        self.say(&format!("image {id} requested"));
        let wait = Wait::new(format!("image {id} not available"));
        loop {
            match self.cloud.image(region, &id).await {
                Err(e)
                    if e.kind == ErrorKind::NotFound
                        && wait.started.elapsed() < NOT_DESCRIBED_FOR =>
                {
                    self.say(&format!("image {id} is not described yet…"));
                }
                Err(e) => return Err(err(e)),
                Ok(img) if img.state == ImageState::Available => {
                    self.say(&format!(
                        "image {id} is available (snapshots: {})",
                        img.snapshots.join(", ")
                    ));
                    break;
                }
                Ok(img) if img.state.is_broken() => {
                    return Err(format!("image {id} is {}", img.state).into());
                }
                Ok(img) => self.say(&format!("image {id} is {}…", img.state)),
            }
            self.wait_until(&wait).await?;
        }
        self.values.insert("image".into(), id.clone());
        self.report("image", &id);
        Ok(())
    }
}
