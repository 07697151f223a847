# callbook-jobs: libical (Debian libical-dev) and a small C checker on it, the strict independent RFC 5545
# validator the .ics tests use (crates/jobs/tests/calendar.rs). Idempotent; sourced by .ci/run.
JOBS_APT=()
command -v gcc >/dev/null || JOBS_APT+=(gcc libc6-dev)
command -v pkg-config >/dev/null || JOBS_APT+=(pkg-config)
pkg-config --exists libical 2>/dev/null || JOBS_APT+=(libical-dev)
if [ ${#JOBS_APT[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${JOBS_APT[@]}"
fi
mkdir -p "$WORK/jobs"
# shellcheck disable=SC2046
gcc -O1 -o "$WORK/jobs/icalcheck" "$ROOT/crates/jobs/tests/ical/icalcheck.c" $(pkg-config --cflags --libs libical)
export CALLBOOK_ICALCHECK="$WORK/jobs/icalcheck"
echo "icalcheck: $CALLBOOK_ICALCHECK ($(pkg-config --modversion libical))"
