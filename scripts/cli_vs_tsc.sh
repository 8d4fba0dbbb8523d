#!/usr/bin/env bash
# Whole-process time and peak memory of `tableau-auth sign-in` (version probe, sign-in,
# sign-out: three requests) against a Python process doing the same with tableauserverclient
# (`use_server_version=True`, sign_in, sign_out), both against one fake-tableau --tls on
# loopback. Times come from hyperfine (Debian's `hyperfine`; `-N`: no shell in between), peak
# RSS from time(1).
#
#   TSC_PYTHON=$(bash scripts/setup-tsc.sh) bash scripts/cli_vs_tsc.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
python=${TSC_PYTHON:?set TSC_PYTHON to a python with tableauserverclient (scripts/setup-tsc.sh)}
cargo build --quiet --release -p tableau-auth-fake --bin fake-tableau
cargo build --quiet --release -p tableau-auth-ureq --features cli --bin tableau-auth
work=$(mktemp -d)
trap 'kill "$fake" 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/fake-tableau --tls >"$work/fake.log" 2>&1 &
fake=$!
for _ in $(seq 100); do grep -q ca_file "$work/fake.log" 2>/dev/null && break; sleep 0.05; done
# It prints one JSON line: {"base_url":"https://127.0.0.1:PORT","ca_file":"/tmp/….pem"}.
url=$(grep -o '"base_url":"[^"]*"' "$work/fake.log" | cut -d'"' -f4)
ca=$(grep -o '"ca_file":"[^"]*"' "$work/fake.log" | cut -d'"' -f4)
[ -n "$url" ] && [ -f "$ca" ] || { cat "$work/fake.log" >&2; exit 1; }
cat >"$work/tsc_sign_in.py" <<'EOF'
import sys
import tableauserverclient as TSC
base, ca, user, password = sys.argv[1:5]
server = TSC.Server(base, use_server_version=True, http_options={"verify": ca})
server.auth.sign_in(TSC.TableauAuth(user, password, site_id=""))
server.auth.sign_out()
EOF
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
ours=(target/release/tableau-auth --server "$url" --ca-file "$ca" --username jsmith sign-in)
tsc=("$python" "$work/tsc_sign_in.py" "$url" "$ca" jsmith 's3cr3t!')
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
TABLEAU_PASSWORD='s3cr3t!' hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/times.json" \
  "${ours[*]}" "${tsc[*]}"
# hyperfine runs one command's runs, then the other's: a noisy spell hits one side only. The
# medians and minimums are steadier than the means it compares.
"$python" - "$work/times.json" <<'EOF'
import json, statistics, sys
ours, tsc = (r["times"] for r in json.load(open(sys.argv[1]))["results"])
med = lambda t: statistics.median(t) * 1000
print(f"median: tableau-auth {med(ours):.2f} ms, TSC {med(tsc):.1f} ms, TSC / ours {med(tsc) / med(ours):.1f}x")
print(f"min:    tableau-auth {min(ours) * 1000:.2f} ms, TSC {min(tsc) * 1000:.1f} ms, TSC / ours {min(tsc) / min(ours):.1f}x")
EOF
for _ in 1 2 3; do
  TABLEAU_PASSWORD='s3cr3t!' /usr/bin/time -f '%M' -a -o "$work/ours_rss" "${ours[@]}" >/dev/null
  /usr/bin/time -f '%M' -a -o "$work/tsc_rss" "${tsc[@]}" >/dev/null
done
echo "peak RSS: tableau-auth $(sort -n "$work/ours_rss" | tail -1) KiB, TSC $(sort -n "$work/tsc_rss" | tail -1) KiB"
