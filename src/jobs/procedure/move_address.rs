//! `move-address`: associate an Elastic IP (named, else the old instance's)
//! with the new instance, or say the DNS change to make when there is
//! none. Gives `public_ip` and `dns_change`.

use super::{Args, Runner, StepResult, arg, err};

impl Runner {
    pub(super) async fn move_address(&mut self, region: &str, args: &Args) -> StepResult {
        let (from, to) = (arg(args, "from"), arg(args, "to"));
        let addrs = self.cloud.addresses(region).await.map_err(err)?;
        let list = self.cloud.instances().await.map_err(err)?;
        let old_ip = list
            .iter()
            .find(|i| i.id == from)
            .and_then(|i| i.public_ip.clone());
        let named = arg(args, "address");
        let eip = if named.is_empty() {
            addrs
                .iter()
                .find(|x| x.instance.as_deref() == Some(from.as_str()))
        } else {
            // Named: it may be free (its instance was terminated).
            Some(
                addrs
                    .iter()
                    .find(|x| x.public_ip == named || x.allocation_id == named)
                    .ok_or_else(|| format!("no Elastic IP {named} in {region}"))?,
            )
        };
        let (ip, dns) = match eip {
            Some(eip) => {
                self.cloud
                    .associate_address(region, &eip.allocation_id, &to)
                    .await
                    .map_err(err)?;
                let was = eip.instance.clone().unwrap_or_else(|| "nothing".into());
                self.ledger.push(format!(
                    "Elastic IP {} ({}): moved from {was} to {to} by this run",
                    eip.public_ip, eip.allocation_id
                ));
                self.say(&format!(
                    "Elastic IP {} moved from {was} to {to}",
                    eip.public_ip
                ));
                (
                    eip.public_ip.clone(),
                    "none: the Elastic IP moved with the service".to_string(),
                )
            }
            None => {
                let new_ip = list
                    .iter()
                    .find(|i| i.id == to)
                    .and_then(|i| i.public_ip.clone())
                    .unwrap_or_else(|| "none".into());
                let dns = format!(
                    "point the DNS records at {new_ip} (they point at {})",
                    old_ip.as_deref().unwrap_or("the lost instance's address")
                );
                self.say(&format!("{from} had no Elastic IP: nothing to move"));
                (new_ip, dns)
            }
        };
        self.say(&format!("DNS: {dns}"));
        self.values.insert("public_ip".into(), ip.clone());
        self.values.insert("dns_change".into(), dns.clone());
        self.report("public_ip", &ip);
        self.report("dns_change", &dns);
        Ok(())
    }
}
