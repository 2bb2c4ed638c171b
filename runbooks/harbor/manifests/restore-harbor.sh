#!/bin/sh
# Restore Harbor's PostgreSQL databases from a backup made by the `harbor-backup-cronjob`
# CronJob: an object `backups/<epoch>.sql.gz` in the Harbor bucket that is really a gzipped tar
# of `backups/<database>.back`, one plain `pg_dump` per database.
#
# Runs in the `restore-harbor-job` Job (image elastisys/backup-postgres), mounted from the
# ConfigMap `restore-harbor`. Everything it reaches comes from the environment, so the same
# script runs anywhere with `aws`, `tar`, `pg_isready` and `psql`:
#
#   S3_BUCKET            the Harbor bucket (required)
#   S3_REGION_ENDPOINT   the S3 endpoint URL (required)
#   SPECIFIC_BACKUP      the key to restore, e.g. backups/1650000000.sql.gz
#                        (empty: the newest backups/<epoch>.sql.gz in the bucket)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION   for `aws`
#   PGHOST (harbor-harbor-database), PGPORT (5432), PGPASSWORD     the database server
#   DATABASES            the databases to restore, space separated
#                        (registry postgres notarysigner notaryserver)
#   WORKDIR              where the backup is downloaded and unpacked (/tmp/harbor-restore)
#   PG_READY_TIMEOUT     seconds to wait for the database server (60)
#
# Every dump is checked to be in the backup before any database is dropped. Each database is
# dropped and created again as `postgres` connected to `template1`, then loaded with psql, which
# stops at the first error (ON_ERROR_STOP) so a broken load fails the Job instead of reporting
# success. Nothing here prints a credential.
set -eu

: "${S3_BUCKET:?S3_BUCKET is not set}"
: "${S3_REGION_ENDPOINT:?S3_REGION_ENDPOINT is not set}"
PGHOST="${PGHOST:-harbor-harbor-database}"
PGPORT="${PGPORT:-5432}"
PGUSER=postgres
DATABASES="${DATABASES:-registry postgres notarysigner notaryserver}"
WORKDIR="${WORKDIR:-/tmp/harbor-restore}"
PG_READY_TIMEOUT="${PG_READY_TIMEOUT:-60}"
export PGHOST PGPORT PGUSER

log() {
    printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"
}

s3() {
    aws --endpoint-url "$S3_REGION_ENDPOINT" s3 "$@"
}

# 1. The backup to restore.
if [ -n "${SPECIFIC_BACKUP:-}" ]; then
    backup="$SPECIFIC_BACKUP"
else
    log "finding the newest backup in s3://$S3_BUCKET/backups/"
    backup=$(s3 ls "s3://$S3_BUCKET/backups/" --recursive \
        | awk '{print $4}' \
        | grep -E '^backups/[0-9]+\.sql\.gz$' \
        | sort -t / -k 2 -n \
        | tail -n 1) || true
    if [ -z "$backup" ]; then
        log "no backups/<epoch>.sql.gz in s3://$S3_BUCKET" >&2
        exit 1
    fi
fi
log "restoring s3://$S3_BUCKET/$backup to $PGHOST:$PGPORT"

# 2. Download and unpack it.
rm -rf "$WORKDIR"
mkdir -p "$WORKDIR"
trap 'rm -rf "$WORKDIR"' EXIT
s3 cp --only-show-errors "s3://$S3_BUCKET/$backup" "$WORKDIR/harbor.tgz"
tar -xzf "$WORKDIR/harbor.tgz" -C "$WORKDIR"
for db in $DATABASES; do
    if [ ! -s "$WORKDIR/backups/$db.back" ]; then
        log "the backup has no dump of database $db (backups/$db.back); nothing was dropped" >&2
        ls -l "$WORKDIR/backups" >&2 || true
        exit 1
    fi
done

# 3. The database server must answer.
waited=0
until pg_isready -q -d template1; do
    if [ "$waited" -ge "$PG_READY_TIMEOUT" ]; then
        log "$PGHOST:$PGPORT is not ready after ${PG_READY_TIMEOUT}s; nothing was dropped" >&2
        exit 1
    fi
    sleep 2
    waited=$((waited + 2))
done

# 4. Drop and recreate each database, then load its dump.
for db in $DATABASES; do
    log "recreating database $db"
    psql -X -q -v ON_ERROR_STOP=1 -d template1 \
        -c "DROP DATABASE IF EXISTS \"$db\";" \
        -c "CREATE DATABASE \"$db\";"
done
for db in $DATABASES; do
    log "loading database $db"
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$WORKDIR/backups/$db.back" >/dev/null
done
log "restored $(echo $DATABASES | wc -w) databases from $backup"
