//! The MAP system's host, from its infrastructure plan: the Django services
//! and Celery workers of its four systems and the central auth as docker
//! compose projects (one per system, production), Kong in front, RabbitMQ
//! with the plan's queues, one PostgreSQL holding the nine databases.
//! The notification worker has stopped, and its queues pile up.

use super::super::sim_state::{SimQueue, SimState, save_state, sim_dump};
use super::{container, gzip_file};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::path::Path;

/// The MAP systems: a tenant (compose project `{system}-production`) each.
pub const MAP_APPS: [&str; 5] = ["map-auth", "map-tts", "map-ams", "map-hdts", "map-bms"];

/// The nine databases on the MAP host's PostgreSQL.
pub const MAP_DATABASES: [&str; 9] = [
    "auth_db",
    "workflowmanagement",
    "helpdesk",
    "notificationservice",
    "ams_authentication",
    "ams_assets",
    "ams_contexts",
    "budgetpro_db",
    "budgetpro_auth",
];

/// Where docker keeps the `media_files` volume on the MAP host.
pub const MEDIA_DIR: &str = "var/lib/docker/volumes/media_files/_data";

/// The infrastructure's compose project: gateway, database, broker.
pub const MAP_PLATFORM: &str = "map-platform";
pub const MAP_POSTGRES: &str = "map-postgres";
pub const MAP_BROKER: &str = "map-rabbitmq";

/// (system, service, published port → container port; "" for a worker).
const SERVICES: &[(&str, &str, &str)] = &[
    ("map-auth", "auth-service", "0.0.0.0:8003->8000/tcp"),
    ("map-auth", "auth-worker", ""),
    ("map-tts", "workflow-api", "0.0.0.0:1001->8000/tcp"),
    ("map-tts", "helpdesk-service", "0.0.0.0:5001->8000/tcp"),
    ("map-tts", "messaging-service", "0.0.0.0:1002->8001/tcp"),
    ("map-tts", "notification-service", "0.0.0.0:1003->8001/tcp"),
    ("map-tts", "workflow-worker", ""),
    ("map-tts", "notification-worker", ""),
    (
        "map-ams",
        "authentication-service",
        "0.0.0.0:8001->8001/tcp",
    ),
    ("map-ams", "assets-service", "0.0.0.0:8002->8002/tcp"),
    ("map-ams", "contexts-service", "0.0.0.0:8004->8003/tcp"),
    ("map-hdts", "helpdesk-service", "0.0.0.0:8000->8000/tcp"),
    ("map-hdts", "helpdesk-worker", ""),
    ("map-bms", "auth-service", "0.0.0.0:8011->8001/tcp"),
    ("map-bms", "budget-service", "0.0.0.0:8010->8000/tcp"),
];

/// (queue, consuming worker service, messages waiting): the plan's queues.
/// The notification worker is down, so its three queues hold a backlog.
const QUEUES: &[(&str, &str, u64)] = &[
    ("TICKET_TASKS_PRODUCTION", "workflow-worker", 12),
    ("role_send-default", "workflow-worker", 0),
    ("tts.role.sync", "workflow-worker", 0),
    ("workflow_seed", "workflow-worker", 0),
    ("celery", "helpdesk-worker", 3),
    ("notification-queue", "notification-worker", 4_213),
    ("inapp-notification-queue", "notification-worker", 1_877),
    ("user-email-sync-queue", "notification-worker", 96),
    ("auth-sync-queue", "auth-worker", 0),
];

/// A MAP container's name: the system and the service without `-service`.
fn container_of(system: &str, svc: &str) -> String {
    format!("{system}-{}", svc.trim_end_matches("-service"))
}

/// Build the MAP host's tree under `root` as of `now`; its systems'
/// repositories live in the sandbox directory `sandbox`.
pub(super) fn create(sandbox: &Path, root: &Path, now: DateTime<Utc>) -> std::io::Result<()> {
    // A checkout per system, as the plan deploys them (compose per system).
    for system in MAP_APPS {
        let services: Vec<(&str, String)> = SERVICES
            .iter()
            .filter(|(s, _, _)| *s == system)
            .map(|(_, svc, _)| (*svc, container_of(system, svc)))
            .collect();
        let refs: Vec<(&str, &str)> = services.iter().map(|(s, c)| (*s, c.as_str())).collect();
        super::repos::create_map_repo(sandbox, root, system, &refs)?;
    }
    let epoch = now.timestamp();
    let day = 86_400;
    let mut sim = SimState::default();
    for (svc, image, port, up) in [
        ("kong", "kong:3.6", "0.0.0.0:8080->8000/tcp", 30 * day),
        (
            "postgres",
            "postgres:15",
            "127.0.0.1:5432->5432/tcp",
            30 * day,
        ),
        (
            "rabbitmq",
            "rabbitmq:3.13-management",
            "127.0.0.1:5672->5672/tcp, 127.0.0.1:15672->15672/tcp",
            30 * day,
        ),
    ] {
        let mut c = container(
            &format!("map-{svc}"),
            image,
            MAP_PLATFORM,
            svc,
            epoch,
            up,
            true,
        );
        c.ports = port.into();
        if svc == "rabbitmq" {
            c.mem_limit_mib = 512;
            c.cpu_limit_milli = 500;
        }
        sim.containers.push(c);
    }
    for (system, svc, port) in SERVICES {
        let project = format!("{system}-production");
        let worker = port.is_empty();
        let mut c = container(
            &container_of(system, svc),
            &format!("mapactive/{}:2.4.1", svc.trim_end_matches("-service")),
            &project,
            svc,
            epoch,
            9 * day,
            !worker,
        );
        c.ports = port.to_string();
        c.volumes = vec!["media_files".into()];
        if *svc == "notification-worker" {
            // Stopped three hours ago and nobody noticed: its queues grow.
            c.state = "exited".into();
            c.exit_code = 1;
            c.started_epoch = epoch - 3 * 3600;
        }
        sim.containers.push(c);
    }
    sim.containers.sort_by(|a, b| a.name.cmp(&b.name));
    sim.queues = QUEUES
        .iter()
        .map(|(name, consumer, messages)| SimQueue {
            name: name.to_string(),
            consumer: consumer.to_string(),
            messages: *messages,
        })
        .collect();
    save_state(root, &sim)?;
    // The uploads: ticket attachments and asset images in media_files.
    let media = root.join(MEDIA_DIR);
    for (path, text) in [
        (
            "tickets/2026/02/T-10231/invoice.pdf",
            "%PDF-1.4 ticket attachment\n",
        ),
        (
            "tickets/2026/02/T-10244/screenshot.png",
            "PNG ticket screenshot\n",
        ),
        ("assets/laptops/AST-0042.jpg", "JPEG asset photo\n"),
        ("assets/laptops/AST-0043.jpg", "JPEG asset photo\n"),
        ("avatars/u-1001.png", "PNG avatar\n"),
    ] {
        super::write(&media.join(path), text)?;
    }
    super::write(
        &root.join("opt/map/.env"),
        "DJANGO_CELERY_BROKER_URL=amqp://map:sandbox-not-a-secret@rabbitmq:5672//\n",
    )?;
    // The nightly dumps of all nine (01:30), two days kept on the host.
    for d in 0..2 {
        let at = Utc.from_utc_datetime(
            &(now - Duration::days(d))
                .date_naive()
                .and_hms_opt(1, 30, 0)
                .unwrap_or_default(),
        );
        if at > now {
            continue;
        }
        for db in MAP_DATABASES {
            gzip_file(
                &root
                    .join("opt/backups/postgres")
                    .join(format!("{db}_{}.sql.gz", at.format("%Y%m%d_%H%M%S"))),
                &sim_dump(db),
                false,
            )?;
        }
    }
    Ok(())
}
