//! `prune-images`: keep the newest `keep` images of an instance, deregister
//! the others and delete their snapshots; never this run's image nor one
//! whose age is unknown. Gives `pruned`.

use super::{Args, Runner, StepResult, arg, err};
use crate::provider::machines::newest_first;

impl Runner {
    pub(super) async fn prune_images(&mut self, region: &str, args: &Args) -> StepResult {
        let keep: usize = arg(args, "keep").parse().unwrap_or(1);
        let all = newest_first(
            self.cloud
                .images(region, &arg(args, "instance"))
                .await
                .map_err(err)?,
        );
        // Never this run's image (the newest by definition, whatever
        // the clock's resolution says), nor one whose age is unknown.
        let made_now = self.values.get("image").cloned();
        let mut all = all;
        if let Some(at) = all.iter().position(|m| Some(&m.id) == made_now.as_ref()) {
            let mine = all.remove(at);
            all.insert(0, mine);
        }
        let mut pruned = 0;
        for (i, img) in all.iter().enumerate() {
            if i >= keep && Some(&img.id) == made_now.as_ref() {
                self.say(&format!("keep {} {}: made by this run", img.id, img.name));
                continue;
            }
            if i >= keep && img.created.is_none() {
                self.say(&format!(
                    "keep {} {}: its creation date is unknown, so it is not known to be older",
                    img.id, img.name
                ));
                continue;
            }
            if i < keep {
                self.say(&format!(
                    "keep {} {} ({})",
                    img.id,
                    img.name,
                    img.created
                        .map(|c| c.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default()
                ));
                continue;
            }
            let snaps = self
                .cloud
                .delete_image(region, &img.id)
                .await
                .map_err(err)?;
            pruned += 1;
            self.ledger.push(format!(
                "image {} ({}) deregistered and its snapshots deleted by this run: gone for good",
                img.id, img.name
            ));
            self.say(&format!(
                "deregistered {} {} and deleted its snapshots {}",
                img.id,
                img.name,
                if snaps.is_empty() {
                    "(none)".to_string()
                } else {
                    snaps.join(", ")
                }
            ));
        }
        self.values.insert("pruned".into(), pruned.to_string());
        self.report("images_kept", &all.len().min(keep).to_string());
        self.report("images_pruned", &pruned.to_string());
        Ok(())
    }
}
