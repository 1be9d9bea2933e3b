//! `launch-like`: RunInstances of an image with another instance's type,
//! subnet, security groups, instance profile, tags (Name suffixed), key
//! pair, metadata options and EBS volumes (type, size, encryption),
//! then wait until it runs with its SSM agent online. Gives
//! `new_instance`.

use super::{Args, Runner, StepResult, Wait, arg, err};
use crate::domain::{InstanceState, SsmPing};
use crate::provider::machines::suffixed;

impl Runner {
    pub(super) async fn launch_like(&mut self, region: &str, args: &Args) -> StepResult {
        let like_id = arg(args, "like");
        let like = self
            .cloud
            .launch_config(region, &like_id)
            .await
            .map_err(err)?;
        let name = suffixed(
            like.tags.get("Name").map(String::as_str).unwrap_or(""),
            &arg(args, "suffix"),
        );
        self.say(&format!(
            "like {like_id}: {} in {} with {} and {}",
            like.instance_type,
            like.subnet.as_deref().unwrap_or("the default subnet"),
            if like.security_groups.is_empty() {
                "no security group".to_string()
            } else {
                like.security_groups.join(", ")
            },
            like.iam_profile.as_deref().unwrap_or("no instance profile")
        ));
        self.say(&format!("and {}", like.extras()));
        let id = self
            .cloud
            .launch(region, &arg(args, "image"), &like, &name)
            .await
            .map_err(err)?;
        self.ledger.push(format!(
            "instance {id} ({name}): launched by this run; it runs (and costs) until you terminate it"
        ));
        self.values.insert("new_instance".into(), id.clone());
        self.say(&format!("launched {id} ({name})"));
        let mut said = String::new();
        let wait = Wait::new(format!("{id} not running with its SSM agent online"));
        loop {
            let list = self.cloud.instances().await.map_err(err)?;
            let now = list.iter().find(|i| i.id == id);
            let state = now.map_or_else(
                || "not listed yet".to_string(),
                |i| format!("{}, SSM agent {}", i.state, i.ssm_ping.label()),
            );
            if state != said {
                self.say(&format!("{id}: {state}"));
                said = state;
            }
            if let Some(i) = now {
                if i.state == InstanceState::Running && i.ssm_ping == SsmPing::Online {
                    break;
                }
                if i.state.is_gone() {
                    return Err(format!("{id} is {}", i.state).into());
                }
            }
            self.wait_until(&wait).await?;
        }
        self.report("new_instance", &id);
        Ok(())
    }
}
