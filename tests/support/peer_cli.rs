//! The binary on an aws context served by the SSM peer (for test binaries
//! that also have `mod common` and `mod moto`).

use std::path::Path;
use std::process::Command;

/// The binary on the peer's context `peer` of `cfg`, its credentials from
/// the environment, never a real AWS endpoint or shared file; `fast`: a
/// quicker tail rhythm than SSM's.
pub fn aws_cli(
    dir: &Path,
    cfg: &Path,
    now: chrono::DateTime<chrono::Utc>,
    fast: bool,
    args: &[&str],
) -> Command {
    let mut c = crate::common::cli_at(dir, now);
    c.env("AWS_ENDPOINT_URL", crate::moto::moto())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .args(["--config", cfg.to_str().unwrap(), "--context", "peer"])
        .args(args);
    if fast {
        c.env("OPSDECK_SSM_POLL_MS", "200")
            .env("OPSDECK_SSM_GAP_MS", "150")
            .env("OPSDECK_SSM_SETTLE_MS", "50")
            .env("OPSDECK_FLEET_POLL_MS", "300");
    }
    c
}
