//! The built-in library: every runbook in `library/`, in the binary.

/// (file, text) of each built-in runbook.
pub(super) const BUILTIN: &[(&str, &str)] = &[
    ("deploy.toml", include_str!("library/deploy.toml")),
    ("rollback.toml", include_str!("library/rollback.toml")),
    (
        "deploy-platform.toml",
        include_str!("library/deploy-platform.toml"),
    ),
    (
        "rollback-platform.toml",
        include_str!("library/rollback-platform.toml"),
    ),
    ("renew-certs.toml", include_str!("library/renew-certs.toml")),
    (
        "deploy-artifact.toml",
        include_str!("library/deploy-artifact.toml"),
    ),
    (
        "rollback-artifact.toml",
        include_str!("library/rollback-artifact.toml"),
    ),
    (
        "docker-cleanup.toml",
        include_str!("library/docker-cleanup.toml"),
    ),
    ("restart.toml", include_str!("library/restart.toml")),
    (
        "gateway-health.toml",
        include_str!("library/gateway-health.toml"),
    ),
    (
        "backup-volume.toml",
        include_str!("library/backup-volume.toml"),
    ),
    (
        "restore-volume.toml",
        include_str!("library/restore-volume.toml"),
    ),
    (
        "service-health.toml",
        include_str!("library/service-health.toml"),
    ),
    (
        "service-restart.toml",
        include_str!("library/service-restart.toml"),
    ),
    (
        "service-logs.toml",
        include_str!("library/service-logs.toml"),
    ),
    ("logs.toml", include_str!("library/logs.toml")),
    ("health.toml", include_str!("library/health.toml")),
    ("api-health.toml", include_str!("library/api-health.toml")),
    ("host-stats.toml", include_str!("library/host-stats.toml")),
    ("cert-expiry.toml", include_str!("library/cert-expiry.toml")),
    (
        "limits-audit.toml",
        include_str!("library/limits-audit.toml"),
    ),
    ("queue-depth.toml", include_str!("library/queue-depth.toml")),
    ("query.toml", include_str!("library/query.toml")),
    ("command.toml", include_str!("library/command.toml")),
    ("backup.toml", include_str!("library/backup.toml")),
    ("backup-all.toml", include_str!("library/backup-all.toml")),
    (
        "sync-backups.toml",
        include_str!("library/sync-backups.toml"),
    ),
    (
        "validate-backup.toml",
        include_str!("library/validate-backup.toml"),
    ),
    (
        "restore-database.toml",
        include_str!("library/restore-database.toml"),
    ),
    (
        "restore-safety.toml",
        include_str!("library/restore-safety.toml"),
    ),
    (
        "snapshot-instance.toml",
        include_str!("library/snapshot-instance.toml"),
    ),
    (
        "recover-instance.toml",
        include_str!("library/recover-instance.toml"),
    ),
    (
        "terminate-instance.toml",
        include_str!("library/terminate-instance.toml"),
    ),
];
