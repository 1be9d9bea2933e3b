//! `newest-image`: the newest available image of an instance. Gives
//! `image` and `image_age_hours`.

use super::{Args, Runner, StepResult, arg, err};
use crate::provider::machines::{ImageState, newest_first};

impl Runner {
    pub(super) async fn newest_image(&mut self, region: &str, args: &Args) -> StepResult {
        let instance = arg(args, "instance");
        let all = newest_first(self.cloud.images(region, &instance).await.map_err(err)?);
        let Some(img) = all.into_iter().find(|m| m.state == ImageState::Available) else {
            return Err(format!(
                "no available image of {instance} in {region}: make one with snapshot-instance while it runs"
            )
            .into());
        };
        let age = img
            .created
            .map(|c| (crate::clock::now() - c).num_hours().max(0))
            .unwrap_or(-1);
        self.say(&format!(
            "newest image: {} {} ({age} h old)",
            img.id, img.name
        ));
        self.values.insert("image".into(), img.id.clone());
        self.values
            .insert("image_age_hours".into(), age.to_string());
        self.report("image", &img.id);
        self.report("image_age_hours", &age.to_string());
        Ok(())
    }
}
