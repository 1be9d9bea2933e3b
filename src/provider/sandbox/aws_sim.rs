//! `aws` on a sandbox host: `aws s3 sync` and `aws s3 cp` against the
//! sandbox's own buckets (the instance role, simulated).

use super::sim_state::{now_epoch, positional};
use std::io::Write;
use std::path::Path;

/// `aws s3 sync DIR s3://BUCKET/PREFIX [--exclude GLOB]…` against the
/// sandbox estate's buckets: files missing there or of another size are
/// uploaded (a new version), like the real command.
pub(super) fn aws(root: Option<&Path>, args: &[String]) -> Result<i32, Box<dyn std::error::Error>> {
    let pos = positional(
        args,
        &[
            "--exclude",
            "--include",
            "--region",
            "--profile",
            "--bucket",
            "--key",
            "--version-id",
        ],
    );
    let sandbox_dir = root
        .and_then(|r| r.parent()?.parent())
        .ok_or("not on a sandbox host")?
        .to_path_buf();
    if pos.first().map(String::as_str) == Some("s3") && pos.get(1).map(String::as_str) == Some("cp")
    {
        let (Some(src), Some(dst)) = (pos.get(2), pos.get(3)) else {
            eprintln!("usage: aws s3 cp s3://BUCKET/KEY FILE");
            return Ok(2);
        };
        let Some((bucket, key)) = src.strip_prefix("s3://").and_then(|r| r.split_once('/')) else {
            eprintln!(
                "aws (simulated): only downloads (aws s3 cp s3://BUCKET/KEY FILE) are simulated"
            );
            return Ok(2);
        };
        let data = super::s3_content(&sandbox_dir, bucket, key);
        let Some(from) = data.filter(|p| p.exists()) else {
            eprintln!(
                "fatal error: An error occurred (404) when calling the HeadObject operation: Not Found (the sandbox keeps contents only for objects uploaded with aws s3 sync)"
            );
            return Ok(1);
        };
        std::fs::copy(&from, dst)?;
        println!("download: {src} to {dst}");
        return Ok(0);
    }
    if pos.first().map(String::as_str) == Some("s3api")
        && pos.get(1).map(String::as_str) == Some("get-object")
    {
        return get_object(&sandbox_dir, args);
    }
    if pos.first().map(String::as_str) == Some("s3") && pos.get(1).map(String::as_str) == Some("ls")
    {
        return ls(&sandbox_dir, pos.get(2).map(String::as_str).unwrap_or(""));
    }
    if pos.first().map(String::as_str) != Some("s3")
        || pos.get(1).map(String::as_str) != Some("sync")
    {
        eprintln!(
            "aws (simulated): only `aws s3 sync DIR s3://BUCKET/PREFIX`, `aws s3 cp s3://… FILE`, `aws s3 ls s3://BUCKET/PREFIX` and `aws s3api get-object --bucket B --key K [--version-id V] FILE` are simulated"
        );
        return Ok(2);
    }
    let (Some(src), Some(dst)) = (pos.get(2), pos.get(3)) else {
        eprintln!("usage: aws s3 sync DIR s3://BUCKET/PREFIX");
        return Ok(2);
    };
    let Some(rest) = dst.strip_prefix("s3://") else {
        eprintln!("aws (simulated): {dst} is not an s3:// URL");
        return Ok(2);
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let excludes: Vec<&str> = args
        .windows(2)
        .filter(|w| w[0] == "--exclude")
        .map(|w| w[1].trim_start_matches('*'))
        .collect();
    let mut estate = super::estate::load(&sandbox_dir)?;
    let Some(b) = estate.buckets.iter_mut().find(|b| b.name == bucket) else {
        eprintln!(
            "fatal error: An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation: The specified bucket does not exist"
        );
        return Ok(1);
    };
    let mut files: Vec<(String, u64)> = std::fs::read_dir(src)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().map(|m| m.len()).unwrap_or(0),
            )
        })
        .filter(|(n, _)| !excludes.iter().any(|x| n.ends_with(x)))
        .collect();
    files.sort();
    let now = chrono::DateTime::from_timestamp(now_epoch(), 0).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    for (name, size) in files {
        let key = format!(
            "{prefix}{}{name}",
            if prefix.is_empty() || prefix.ends_with('/') {
                ""
            } else {
                "/"
            }
        );
        let current = b
            .objects
            .iter()
            .find(|o| o.key == key)
            .and_then(|o| o.versions.last())
            .filter(|v| !v.delete_marker)
            .map(|v| v.size);
        if current == Some(size) {
            continue;
        }
        super::s3_store(&sandbox_dir, bucket, &key, &Path::new(src).join(&name))?;
        let version = super::estate::SimVersion {
            version_id: super::estate::version_id_for(&format!("{key}:{size}:{}", now.timestamp())),
            size,
            last_modified: now,
            delete_marker: false,
            storage_class: "STANDARD".into(),
        };
        match b.objects.iter_mut().find(|o| o.key == key) {
            Some(o) => o.versions.push(version),
            None => b.objects.push(super::estate::SimObject {
                key: key.clone(),
                versions: vec![version],
            }),
        }
        writeln!(out, "upload: {src}/{name} to s3://{bucket}/{key}")?;
    }
    b.objects.sort_by(|x, y| x.key.cmp(&y.key));
    super::estate::save(&sandbox_dir, &estate)?;
    Ok(0)
}

/// `aws s3 ls s3://BUCKET/PREFIX`: the objects of the "directory" PREFIX is
/// in whose names start with the rest, as the real command prints them
/// (`DATE TIME SIZE NAME`; delete-marked ones are not listed).
fn ls(sandbox_dir: &Path, url: &str) -> Result<i32, Box<dyn std::error::Error>> {
    let Some(rest) = url.strip_prefix("s3://") else {
        eprintln!("aws (simulated): `aws s3 ls` needs s3://BUCKET/PREFIX");
        return Ok(2);
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let estate = super::estate::load(sandbox_dir)?;
    let Some(b) = estate.buckets.iter().find(|b| b.name == bucket) else {
        eprintln!(
            "An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation: The specified bucket does not exist"
        );
        return Ok(1);
    };
    let dir = prefix.rfind('/').map(|i| &prefix[..=i]).unwrap_or("");
    let mut out = std::io::stdout().lock();
    let mut any = false;
    for o in b.objects.iter().filter(|o| o.key.starts_with(prefix)) {
        let name = &o.key[dir.len()..];
        if name.contains('/') {
            continue;
        }
        if let Some(v) = o.versions.last().filter(|v| !v.delete_marker) {
            any = true;
            writeln!(
                out,
                "{} {:>10} {name}",
                v.last_modified.format("%Y-%m-%d %H:%M:%S"),
                v.size
            )?;
        }
    }
    // The real command exits 1 when nothing matches.
    Ok(i32::from(!any))
}

/// `aws s3api get-object --bucket B --key K [--version-id V] FILE`: one
/// version's bytes (the current one without `--version-id`), as the real
/// command writes them; its JSON answer names the version.
fn get_object(sandbox_dir: &Path, args: &[String]) -> Result<i32, Box<dyn std::error::Error>> {
    let opt = |name: &str| args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone());
    let pos = positional(
        args,
        &["--bucket", "--key", "--version-id", "--region", "--profile"],
    );
    let (Some(bucket), Some(key), Some(out)) = (opt("--bucket"), opt("--key"), pos.get(2)) else {
        eprintln!(
            "usage: aws s3api get-object --bucket BUCKET --key KEY [--version-id ID] OUTFILE"
        );
        return Ok(2);
    };
    let estate = super::estate::load(sandbox_dir)?;
    let versions = estate
        .buckets
        .iter()
        .find(|b| b.name == bucket)
        .and_then(|b| b.objects.iter().find(|o| o.key == key))
        .map(|o| o.versions.clone())
        .unwrap_or_default();
    let wanted = opt("--version-id");
    let current = versions.last().map(|v| v.version_id.clone());
    let Some(v) = versions
        .iter()
        .find(|v| {
            wanted.as_ref().is_none_or(|w| *w == v.version_id)
                && (wanted.is_some() || Some(&v.version_id) == current.as_ref())
        })
        .filter(|v| !v.delete_marker)
    else {
        eprintln!(
            "An error occurred (NoSuchVersion) when calling the GetObject operation: The specified version does not exist."
        );
        return Ok(254);
    };
    let from = super::s3_version_content(sandbox_dir, &bucket, &key, &v.version_id)
        .filter(|p| p.exists())
        .or_else(|| {
            (Some(&v.version_id) == current.as_ref())
                .then(|| super::s3_content(sandbox_dir, &bucket, &key))
                .flatten()
        })
        .filter(|p| p.exists());
    let Some(from) = from else {
        eprintln!(
            "An error occurred (NoSuchKey) when calling the GetObject operation: the sandbox keeps no content for {key} version {}",
            v.version_id
        );
        return Ok(254);
    };
    std::fs::copy(&from, out)?;
    println!(
        "{{\"ContentLength\": {}, \"VersionId\": \"{}\"}}",
        std::fs::metadata(out)?.len(),
        v.version_id
    );
    Ok(0)
}
