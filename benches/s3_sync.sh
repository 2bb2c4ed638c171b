#!/usr/bin/env bash
# s3.sync against `rclone copy` and `aws s3 sync`, between two local S3 servers (moto), in one
# run: 1 GiB in 8 objects, then 5,000 small objects. Prints seconds, MiB/s and peak RSS per tool.
#
#   benches/s3_sync.sh                 # builds runbook in release mode first
#   RUNBOOK=target/release/runbook benches/s3_sync.sh
#   BIG_MIB=128 SMALL_COUNT=5000 ROUNDS=3 benches/s3_sync.sh
#
# Needs: moto_server (pip install 'moto[server]'), rclone (apt), aws (pip install awscli),
# python3 with boto3 (comes with moto), GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."

BIG_MIB=${BIG_MIB:-128}          # 8 objects of this size
SMALL_COUNT=${SMALL_COUNT:-5000} # small objects of 4 KiB each
if [[ -z "${RUNBOOK:-}" ]]; then
    cargo build --release --quiet --bin runbook
    RUNBOOK=${CARGO_TARGET_DIR:-target}/release/runbook
fi
export AWS_ACCESS_KEY_ID=AKIABENCHMARK AWS_SECRET_ACCESS_KEY=bench-secret AWS_DEFAULT_REGION=us-east-1
unset AWS_CA_BUNDLE

work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SRC_PORT=$(free_port); DST_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$SRC_PORT" >/dev/null 2>&1 & pids+=($!)
moto_server -H 127.0.0.1 -p "$DST_PORT" >/dev/null 2>&1 & pids+=($!)
for port in "$SRC_PORT" "$DST_PORT"; do
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
done
SRC=http://127.0.0.1:$SRC_PORT DST=http://127.0.0.1:$DST_PORT

python3 - "$SRC" "$BIG_MIB" "$SMALL_COUNT" <<'PY'
import os, sys, boto3
from concurrent.futures import ThreadPoolExecutor
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
big, count = int(sys.argv[2]), int(sys.argv[3])
for b in ("big", "small"):
    s3.create_bucket(Bucket=b)
block = os.urandom(big << 20)
for i in range(8):
    s3.put_object(Bucket="big", Key=f"objects/{i}.bin", Body=block[i:] + block[:i])
with ThreadPoolExecutor(16) as pool:
    list(pool.map(lambda i: s3.put_object(Bucket="small", Key=f"objects/{i:05}.txt", Body=os.urandom(4096)), range(count)))
PY

cat > "$work/rclone.conf" <<CONF
[src]
type = s3
provider = Other
endpoint = $SRC
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
force_path_style = true
[dst]
type = s3
provider = Other
endpoint = $DST
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
force_path_style = true
CONF

cat > "$work/sync.yaml" <<YAML
apiVersion: runbook/v1
kind: Runbook
name: bench
params:
  bucket: {required: true}
  dest: {required: true}
connections:
  src: {kind: s3, endpoint: "$SRC", region: us-east-1, access_key: $AWS_ACCESS_KEY_ID, secret_key: $AWS_SECRET_ACCESS_KEY, path_style: true}
  dst: {kind: s3, endpoint: "$DST", region: us-east-1, access_key: $AWS_ACCESS_KEY_ID, secret_key: $AWS_SECRET_ACCESS_KEY, path_style: true}
steps:
  - id: sync
    uses: s3.sync
    with:
      source: {connection: src, bucket: "{{ params.bucket }}"}
      destination: {connection: dst, bucket: "{{ params.dest }}"}
YAML

bytes_of() { python3 -c "import boto3,sys; s3=boto3.client('s3', endpoint_url='$SRC'); print(sum(o['Size'] for p in s3.get_paginator('list_objects_v2').paginate(Bucket='$1') for o in p.get('Contents', [])))"; }
# Empties and removes a destination bucket, so every round starts with the servers holding the same.
drop() { python3 -c "
import boto3; s3 = boto3.client('s3', endpoint_url='$DST')
for p in s3.get_paginator('list_objects_v2').paginate(Bucket='$1'):
    for o in p.get('Contents', []): s3.delete_object(Bucket='$1', Key=o['Key'])
s3.delete_bucket(Bucket='$1')"; }

measure() { # name, bucket, command...
    local name=$1 bucket=$2; shift 2
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>&1 || { echo "$name failed:"; tail -20 "$work/out"; return 1; }
    read -r secs kib <"$work/time"
    echo "$name|$bucket|$secs|$kib|$(bytes_of "$bucket")" >>"$work/results"
    printf '  %-24s %-6s %7.2f s\n' "$name" "$bucket" "$secs"
}

ROUNDS=${ROUNDS:-3}
echo "bucket big: 8 x $BIG_MIB MiB; bucket small: $SMALL_COUNT x 4 KiB; $ROUNDS rounds, the tools taking turns"
for bucket in big small; do
    for round in $(seq "$ROUNDS"); do
        measure "runbook s3.sync" "$bucket" env RUNBOOK_STATE_DIR="$work/state" "$RUNBOOK" run "$work/sync.yaml" --yes --set "bucket=$bucket" --set "dest=rb-$bucket"
        drop "rb-$bucket"
        measure "rclone copy" "$bucket" rclone --config "$work/rclone.conf" copy "src:$bucket" "dst:rc-$bucket"
        drop "rc-$bucket"
        aws --endpoint-url "$DST" s3 mb "s3://aws-$bucket" >/dev/null
        measure "aws s3 sync (via local)" "$bucket" sh -c "aws --endpoint-url '$SRC' s3 sync 's3://$bucket' '$work/aws-$bucket' --only-show-errors && aws --endpoint-url '$DST' s3 sync '$work/aws-$bucket' 's3://aws-$bucket' --only-show-errors"
        rm -rf "$work/aws-$bucket"
        drop "aws-$bucket"
    done
done
echo
echo "median of $ROUNDS rounds (peak RSS: the highest)"
python3 - "$work/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, bucket, secs, kib, size = line.strip().split("|")
    runs.setdefault((bucket, name), []).append((float(secs), int(kib), int(size)))
for (bucket, name), r in runs.items():
    secs = statistics.median(s for s, _, _ in r)
    print(f"{name:<24} {bucket:<6} {secs:>7.2f} s {r[0][2] / 1048576 / max(secs, 0.001):>7.1f} MiB/s  peak RSS {max(k for _, k, _ in r) / 1024:>6.1f} MiB")
PY
