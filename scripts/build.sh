#!/usr/bin/env bash
# build.sh [default|asan|clang]...: configures (only when needed) and compiles build dirs:
#   default -> build/        gcc
#   asan    -> build-asan/   gcc, AddressSanitizer + UBSan
#   clang   -> build-clang/  clang (proves the tree builds clean with it)
#   guestd  -> build/        only tandem-guestd, for the demo image (no sanitizers there)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The meson options a build dir is configured with, as "name=value" lines.
current_options() {
    meson introspect "$1" --buildoptions | /usr/bin/python3 -c '
import json, sys
for o in json.load(sys.stdin):
    v = o["value"]
    print(o["name"] + "=" + (",".join(v) if isinstance(v, list) else str(v).lower()))'
}

# Runs a command quietly into LOG; shows LOG and fails if it fails.
quiet() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 || { cat "$log" >&2; die "failed: $* (log: $log)"; }
}

# setup DIR CC [-Dname=value]...: meson setup when DIR is not configured; meson configure when
# an option differs; otherwise nothing (ninja itself regenerates when a meson.build changes).
setup() {
    local dir=$1 cc=$2
    shift 2
    if [ ! -f "$dir/build.ninja" ]; then
        say "build: configuring ${dir##*/} ($cc${*:+ $*})"
        local wipe=()
        [ -d "$dir/meson-private" ] && wipe=(--wipe)
        mkdir -p "$dir"
        CC=$cc quiet "$dir/setup.log" meson setup "${wipe[@]}" "$@" "$dir" "$TANDEM_ROOT"
        return
    fi
    local have o stale=()
    have=$(current_options "$dir")
    for o in "$@"; do
        grep -qxF -- "${o#-D}" <<<"$have" || stale+=("$o")
    done
    if [ ${#stale[@]} -gt 0 ]; then
        say "build: reconfiguring ${dir##*/} (${stale[*]})"
        quiet "$dir/setup.log" meson configure "$dir" "${stale[@]}"
    fi
}

build() {
    local dir cc opts=() targets=()
    case "$1" in
        guestd) dir=build cc=gcc targets=(tandem-guestd tandem-media-send tools/tandem-media-gen:executable) ;; # + the media client and the clips it sends
        default) dir=build cc=gcc ;;
        asan) dir=build-asan cc=gcc opts=("-Db_sanitize=address,undefined" -Db_lundef=false) ;;
        clang) dir=build-clang cc=clang ;;
        *) die "build: unknown configuration \`$1' (default, asan or clang)" ;;
    esac
    setup "$TANDEM_ROOT/$dir" "$cc" "${opts[@]}"
    say "build: compiling $dir${targets[*]:+ (${targets[*]})}"
    quiet "$TANDEM_ROOT/$dir/compile.log" meson compile -C "$TANDEM_ROOT/$dir" "${targets[@]}"
}

[ $# -gt 0 ] || set -- default
for config in "$@"; do build "$config"; done
