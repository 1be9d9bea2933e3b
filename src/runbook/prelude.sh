# ---- opsdeck prelude: helpers every runbook can use ----
__state=$(mktemp "${TMPDIR:-/tmp}/opsdeck-state.XXXXXX") || exit 70
trap 'rm -f "$__state" "$__state.kept"' EXIT
__first_rc=0
__failed_step=
# say TEXT: one indented progress line.
say() { printf '    %s\n' "$*"; }
# keep NAME VALUE: the blocks that follow see $NAME.
keep() { printf '%s=%q\n' "$1" "$2" >> "$__state"; }
# data_kept TEXT: the way back kept data instead of destroying it (said, and
# when this runs as an automatic rollback, the failed run ends as
# failed-data-kept, exit 4).
data_kept() {
  say "$*"
  if [ -n "${OPSDECK_KEPT:-}" ]; then printf '%s\n' "$*" >> "$OPSDECK_KEPT"; fi
}
# compose ARGS…: docker compose (v2), else docker-compose (v1) where only it
# is installed (the multi-tenant document's scripts call docker-compose).
compose() {
  if docker compose version >/dev/null 2>&1; then docker compose "$@"
  elif command -v docker-compose >/dev/null 2>&1; then docker-compose "$@"
  else say "neither docker compose (v2) nor docker-compose (v1) is installed"; return 127
  fi
}
# report KEY VALUE: a figure the journal keeps with the run (row counts, sizes…).
report() { printf '==> opsdeck report: %s=%s\n' "$1" "$2"; }
# Databases: `via` is docker (psql in $pg_container), tcp ($pg_host:$pg_port)
# or sqlite. Credentials stay on the host (.pgpass, trust), never in opsdeck.
db_psql() {
  local db=$1; shift
  case "$via" in
    docker) docker exec -i "$pg_container" psql -X -q -v ON_ERROR_STOP=1 -U "$pg_user" -d "$db" "$@" ;;
    tcp) psql -X -q -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$db" "$@" ;;
    *) say "db_psql: via=$via is not PostgreSQL"; return 2 ;;
  esac
}
# db_value DB SQL: one value, unaligned.
db_value() { db_psql "$1" -A -t -c "$2"; }
db_dump() {
  case "$via" in
    docker) docker exec "$pg_container" pg_dump -U "$pg_user" -d "$1" --no-owner --no-privileges ;;
    tcp) pg_dump -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$1" --no-owner --no-privileges ;;
    *) say "db_dump: via=$via is not PostgreSQL"; return 2 ;;
  esac
}
# fetch_backup PATH-OR-S3-URL [VERSION-ID]: a local file holding the backup
# (S3 ones are downloaded to the host first, with the instance's role; an
# older version of a `latest` key by its id); prints its path.
fetch_backup() {
  case "$1" in
    s3://*)
      local d="$root/var/lib/opsdeck/fetched" rest=${1#s3://} f
      mkdir -p "$d"
      if [ -n "${2:-}" ]; then
        f="$d/${2}_${1##*/}"
        aws s3api get-object --bucket "${rest%%/*}" --key "${rest#*/}" --version-id "$2" "$f" >/dev/null || return 1
      else
        f="$d/${1##*/}"
        aws s3 cp "$1" "$f" >&2 || return 1
      fi
      printf '%s' "$f" ;;
    *) printf '%s' "$root$1" ;;
  esac
}
# check_backup FILE: FILE is whole in the backup's format ($format: sql.gz,
# sql, sqlite3.gz); says what it found, or why not (and fails).
check_backup() {
  local err
  case "${format:-sql.gz}" in
    sql.gz|sqlite3.gz)
      if ! err=$(gzip -t "$1" 2>&1); then say "not a valid gzip file: ${err##*: }"; return 1; fi
      say "$(stat -c %s "$1") bytes, gzip intact" ;;
    sql)
      # Not `| grep -q`: under pipefail its early exit fails head with SIGPIPE.
      if ! grep -q -E '^(-- PostgreSQL database dump|CREATE |SET |COPY |INSERT |BEGIN)' < <(head -c 65536 "$1"); then
        say "not a plain SQL dump: no pg_dump header, CREATE, SET, COPY or INSERT near its start"; return 1
      fi
      say "$(stat -c %s "$1") bytes of plain SQL" ;;
    *) say "format ${format}: opsdeck restores .sql.gz, .sql and .sqlite3.gz"; return 1 ;;
  esac
}
# backup_bytes FILE: the backup's content (gunzipped unless it is plain SQL).
backup_bytes() {
  if [ "${format:-sql.gz}" = sql ]; then cat "$1"; else gunzip -c "$1"; fi
}
# need_free_mib DIR MIB: fails (saying how much there is) when DIR on the
# host has less than MIB free; creates DIR.
need_free_mib() {
  local free_kb
  mkdir -p "$root$1"
  free_kb=$(df -Pk "$root$1" | awk 'NR==2 {print $4}')
  if [ "$free_kb" -lt $(($2 * 1024)) ]; then say "only $((free_kb / 1024)) MiB free in $1"; return 1; fi
}
# backup_one DB [SUFFIX]: dump DB (via, dir, sqlite_path as set) to
# $dir/DB_<ts>.sql.gz through a partial file, gzip -t, move into place;
# reports file, bytes and sha256 (each KEY followed by SUFFIX).
backup_one() {
  local db=$1 sfx=${2:-} ts ext final tmp start size
  ts=$(date -u -d "@$(now_epoch)" +%Y%m%d_%H%M%S)
  if [ "$via" = sqlite ]; then ext=sqlite3.gz; else ext=sql.gz; fi
  final="$root$dir/${db}_${ts}.$ext"
  tmp="$final.partial"
  start=$SECONDS
  local ok=1
  # In `if`s: a failed dump is cleaned up here, not by errexit.
  if [ "$via" = sqlite ]; then
    if ! { sqlite3 "$root$sqlite_path" ".backup '$tmp.raw'" && gzip -c "$tmp.raw" > "$tmp"; }; then ok=0; fi
  else
    if ! db_dump "$db" | gzip -c > "$tmp"; then ok=0; fi
  fi
  if [ "$ok" = 0 ] || ! gzip -t "$tmp" 2>/dev/null; then
    rm -f "$tmp" "$tmp.raw"; say "$db: the dump failed; no file was left"; return 1
  fi
  rm -f "$tmp.raw"
  mv "$tmp" "$final"
  size=$(stat -c %s "$final")
  say "${final##*/}: $size bytes in $((SECONDS - start)) s"
  report "file$sfx" "${final##*/}"
  report "bytes$sfx" "$size"
  report "sha256$sfx" "$(sha256sum "$final" | cut -d' ' -f1)"
}
# retain_backups DB [SUFFIX]: delete DB's backups in $dir older than
# keep_days beyond the newest keep_min; reports kept (KEY followed by SUFFIX).
retain_backups() {
  local db=$1 sfx=${2:-} now f n=0 removed=0 age_days files
  now=$(now_epoch)
  mapfile -t files < <(ls -1 "$root$dir" | grep -E "^${db}_[0-9]{8}_[0-9]{6}\.(sql|sqlite3)\.gz$" | sort -r)
  for f in "${files[@]}"; do
    n=$((n + 1))
    age_days=$(( (now - $(backup_epoch "$f")) / 86400 ))
    if [ "$n" -gt "$keep_min" ] && [ "$age_days" -gt "$keep_days" ]; then
      rm -f "$root$dir/$f"; removed=$((removed + 1)); say "removed $f ($age_days days old)"
    fi
  done
  say "$((n - removed)) backups of $db kept, $removed removed"
  report "kept$sfx" "$((n - removed))"
}
# now_epoch: seconds since 1970 (the sandbox's simulated clock when set).
now_epoch() { echo "${OPSDECK_SIM_NOW:-$(date +%s)}"; }
# newest_backup DB: the newest {db}_YYYYmmdd_HHMMSS.sql.gz on this host, or nothing.
newest_backup() {
  local f newest=
  for f in "$root/opt/backups/postgres/$1"_????????_??????.sql.gz; do
    if [ -e "$f" ]; then newest=$f; fi
  done
  printf '%s' "$newest"
}
# backup_epoch FILE: when a backup was taken, from its name.
backup_epoch() {
  local ts=${1##*/}
  ts=${ts%%.*}; ts=${ts: -15}
  date -u -d "${ts:0:4}-${ts:4:2}-${ts:6:2} ${ts:9:2}:${ts:11:2}:${ts:13:2}" +%s
}
# wait_project_healthy PROJECT [SECONDS]: every container of the compose
# project running and healthy (or without a healthcheck); 20 when not.
wait_project_healthy() {
  local project=$1 deadline=$((SECONDS + ${2:-${OPSDECK_HEALTH_TIMEOUT:-60}})) c h bad waiting names
  while :; do
    bad=0; waiting=0
    names=$(compose -p "$project" ps --format '{{.Name}}')
    if [ -z "$names" ]; then say "no containers in $project"; return 20; fi
    for c in $names; do
      h=$(docker inspect --format '{{.State.Health.Status}}' "$c" 2>/dev/null || echo missing)
      case "$h" in
        healthy|'<no value>') ;;
        starting) waiting=1; say "$c: health starting" ;;
        *) bad=1; say "$c is $h" ;;
      esac
    done
    if [ "$bad" = 0 ] && [ "$waiting" = 0 ]; then say "all containers of $project are healthy"; return 0; fi
    if [ "$bad" = 1 ] || [ "$SECONDS" -ge "$deadline" ]; then return 20; fi
    sleep 1
  done
}
# wait_container_healthy NAME [SECONDS]
wait_container_healthy() {
  local c=$1 deadline=$((SECONDS + ${2:-${OPSDECK_HEALTH_TIMEOUT:-60}})) h
  while :; do
    h=$(docker inspect --format '{{.State.Health.Status}}' "$c" 2>/dev/null || echo missing)
    case "$h" in
      healthy|'<no value>') say "$c is up (${h/<no value>/no healthcheck})"; return 0 ;;
      starting) say "$c: health starting" ;;
      *) say "$c is $h"; return 20 ;;
    esac
    if [ "$SECONDS" -ge "$deadline" ]; then say "$c still not healthy"; return 20; fi
    sleep 1
  done
}
__result() { printf '==> %s result: %s\n' "${OPSDECK_RESULT_PREFIX:-opsdeck}" "$*"; }
__block() {
  printf '==> %s\n' "$1"
  ( set -euo pipefail; . "$__state"; "$2" )
}
__precheck_failed() {
  printf '==> precheck failed: %s (exit %s); nothing was changed\n' "$1" "$2"
  __result "precheck-failed step=\"$1\" exit=3"
  exit 3
}
__failed() {
  local rb=none
  printf '==> FAILED: %s (exit %s)\n' "$1" "$2"
  if [ -n "$__rollback_name" ]; then
    printf '==> rolling back automatically with `%s`\n' "$__rollback_name"
    export OPSDECK_KEPT="$__state.kept"
    if __rollback; then
      rb=done
      if [ -s "$OPSDECK_KEPT" ]; then
        rb=kept
        printf '==> rolled back automatically: `%s` kept the data: %s\n' "$__rollback_name" "$(tr '\n' ' ' < "$OPSDECK_KEPT")"
      else
        printf '==> rolled back automatically: `%s` succeeded\n' "$__rollback_name"
      fi
    else
      rb=failed
      printf '==> ROLLBACK FAILED: `%s` did not complete; the tenant needs you now\n' "$__rollback_name"
    fi
  fi
  if [ "$rb" = kept ]; then
    __result "failed-data-kept step=\"$1\" exit=$2 rollback=kept"
    exit 4
  fi
  __result "failed step=\"$1\" exit=$2 rollback=$rb"
  __exit_failed "$2"
}
# 4 says "failed, data kept" (__failed); a step's own 4 is a plain failure.
__exit_failed() {
  if [ "$1" -eq 4 ]; then exit 1; fi
  exit "$1"
}
__failed_continue() {
  printf '==> FAILED: %s (exit %s); continuing\n' "$1" "$2"
  if [ "$__first_rc" -eq 0 ]; then __first_rc=$2; __failed_step=$1; fi
}
__finish() {
  if [ "$__first_rc" -ne 0 ]; then
    __result "failed step=\"$__failed_step\" exit=$__first_rc"
    __exit_failed "$__first_rc"
  fi
  __result "succeeded"
  exit 0
}
# ---- runbook blocks ----
