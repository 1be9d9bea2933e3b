//! Docker's disk on a sandbox host: named volumes (`volume ls`,
//! `volume inspect`) and what builds leave (`system df`, `image prune`,
//! `builder prune`).

use super::*;

/// `docker volume ls` and `docker volume inspect [--format …] NAME`: the
/// named volumes the host's containers mount, kept under
/// /var/lib/docker/volumes/NAME/_data as docker keeps them.
pub(super) fn volume(root: &Path, rest: &[String], out: &mut impl Write) -> Res {
    let st = Store::open(root)?.load();
    let mut names: Vec<&str> = st
        .containers
        .iter()
        .flat_map(|c| c.volumes.iter().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    match rest.first().map(String::as_str) {
        Some("ls") => {
            writeln!(out, "DRIVER    VOLUME NAME")?;
            for n in names {
                writeln!(out, "local     {n}")?;
            }
            Ok(0)
        }
        Some("inspect") => {
            let fmt = flag_value(rest, &["--format", "-f"]);
            let wanted = positional(rest, &["--format", "-f"]);
            let mut found = Vec::new();
            for n in wanted.iter().skip(1) {
                if !names.contains(&n.as_str()) {
                    eprintln!("Error response from daemon: get {n}: no such volume");
                    return Ok(1);
                }
                found.push(json!({
                    "Name": n,
                    "Driver": "local",
                    "Mountpoint": format!("/var/lib/docker/volumes/{n}/_data"),
                }));
            }
            print_inspected(out, fmt.as_deref(), &found)
        }
        _ => {
            eprintln!("docker volume (simulated): only ls and inspect");
            Ok(1)
        }
    }
}

/// Docker's disk: `system df`, `image prune -f` (dangling images),
/// `builder prune -f` (the build cache), each saying what it reclaimed.
pub(super) fn disk(root: &Path, cmd: &str, rest: &[String], out: &mut impl Write) -> Res {
    let store = Store::open(root)?;
    let mut st = store.load();
    let human = |mib: u64| {
        if mib >= 1024 {
            format!("{:.2}GB", mib as f64 / 1024.0)
        } else {
            format!("{mib}MB")
        }
    };
    let sub = rest.first().map(String::as_str).unwrap_or("");
    let forced = rest.iter().any(|a| a == "-f" || a == "--force");
    match (cmd, sub) {
        ("system", "df") => {
            let dangling: u64 = st.dangling.iter().map(|d| d.1).sum();
            let images = st.images.len() as u64 + st.dangling.len() as u64;
            writeln!(
                out,
                "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
            )?;
            writeln!(
                out,
                "Images          {images:<9} {:<9} {:<9} {}",
                st.images.len(),
                human(st.images.len() as u64 * 412 + dangling),
                human(dangling)
            )?;
            writeln!(
                out,
                "Containers      {:<9} {:<9} {:<9} 0B",
                st.containers.len(),
                st.containers
                    .iter()
                    .filter(|c| c.state == "running")
                    .count(),
                human(st.containers.len() as u64 * 2)
            )?;
            writeln!(
                out,
                "Build Cache     {:<9} 0         {:<9} {}",
                st.build_cache_mib / 96,
                human(st.build_cache_mib),
                human(st.build_cache_mib)
            )?;
            Ok(0)
        }
        (_, "prune") if !forced => {
            eprintln!(
                "WARNING! This will remove data. Are you sure you want to continue? [y/N] (simulated: pass -f)"
            );
            Ok(1)
        }
        ("image", "prune") => {
            let freed: u64 = st.dangling.iter().map(|d| d.1).sum();
            if !st.dangling.is_empty() {
                writeln!(out, "Deleted Images:")?;
            }
            for (id, _) in st.dangling.drain(..) {
                writeln!(out, "deleted: {id}")?;
            }
            writeln!(out, "\nTotal reclaimed space: {}", human(freed))?;
            store.save(&st)?;
            Ok(0)
        }
        ("builder", "prune") => {
            let freed = std::mem::take(&mut st.build_cache_mib);
            writeln!(out, "Total:\t{}", human(freed))?;
            store.save(&st)?;
            Ok(0)
        }
        _ => {
            eprintln!("docker (simulated): '{cmd} {sub}' is not simulated");
            Ok(1)
        }
    }
}
