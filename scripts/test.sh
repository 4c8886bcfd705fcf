#!/usr/bin/env bash
# test.sh [meson test args]: deps, the ASan+UBSan and clang builds, libvirt, the demo image,
# then `meson test` in build-asan; prints "N passed, N failed" last. Extra arguments go to
# meson test (e.g. a test name, or --suite unit).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$TANDEM_ROOT/scripts/deps.sh"
# guestd for the demo image comes from build/ (the image has no ASan runtime).
"$TANDEM_ROOT/scripts/build.sh" asan clang guestd
trap libvirt_down_scoped EXIT
libvirt_up_scoped
TANDEM_GUESTD=$TANDEM_ROOT/build/guestd/tandem-guestd "$TANDEM_ROOT/scripts/build-image.sh"
"$TANDEM_ROOT/scripts/kvm-probe.sh"
"$TANDEM_ROOT/scripts/screen-content.sh" # real screen content for the codec tests (cached)

say "test: meson test -C build-asan $*"
rc=0
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 TANDEM_IMAGE_DIR=$TANDEM_IMAGE_DIR meson test -C "$TANDEM_ROOT/build-asan" --print-errorlogs "$@" || rc=$?

testlog=$TANDEM_ROOT/build-asan/meson-logs/testlog.json
[ -f "$testlog" ] || die "test: meson wrote no $testlog (exit status $rc)"
# One JSON object a line. OK and EXPECTEDFAIL pass; SKIP is counted apart; all else fails.
read -r passed failed skipped < <(/usr/bin/python3 -c '
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
for line in open(sys.argv[1]):
    if line.strip():
        r = json.loads(line)["result"]
        counts["passed" if r in ("OK", "EXPECTEDFAIL") else "skipped" if r == "SKIP" else "failed"] += 1
print(counts["passed"], counts["failed"], counts["skipped"])' "$testlog")

libvirt_down_scoped # before the summary, which must be the last line
[ "$skipped" -eq 0 ] || echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
