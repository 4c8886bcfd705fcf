#!/usr/bin/env bash
# demo.sh: boots the demo desktop `tandem-demo' under hostd and prints milestones as they
# happen (display attached, first frame, mode changes, login prompt) until Ctrl-C; then removes
# everything it made. TANDEM_DEMO_SECONDS=N stops it after N seconds instead (for scripts).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DOMAIN=tandem-demo
HOSTD=${TANDEM_HOSTD:-$TANDEM_ROOT/build/hostd/tandem-hostd}
VIEWER=$TANDEM_ROOT/build/client/tandem-viewer
TICKET_TOOL=$TANDEM_ROOT/build/tools/tandem-ticket
VIEWER_PORT=${TANDEM_DEMO_PORT:-7443}
FILMSTRIP=$TANDEM_ROOT/build/demo-filmstrip
ATTACH_TIMEOUT=30

"$TANDEM_ROOT/scripts/deps.sh"
"$TANDEM_ROOT/scripts/build.sh" default

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-demo.XXXXXX")
hostd_pid=""
viewer_pid=""
defined=0

cleanup() {
    trap - EXIT INT TERM
    echo
    say "demo: cleaning up"
    if [ -n "$viewer_pid" ] && kill -0 "$viewer_pid" 2>/dev/null; then
        kill -TERM "$viewer_pid"
        wait "$viewer_pid" 2>/dev/null || true
    fi
    if [ -n "$hostd_pid" ] && kill -0 "$hostd_pid" 2>/dev/null; then
        kill -TERM "$hostd_pid"
        wait "$hostd_pid" 2>/dev/null || true
    fi
    if [ "$defined" = 1 ]; then
        virsh_q destroy "$DOMAIN" >/dev/null 2>&1 || true
        virsh_q undefine "$DOMAIN" >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
    libvirt_down_scoped
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

libvirt_up_scoped
TANDEM_GUESTD=$TANDEM_ROOT/build/guestd/tandem-guestd "$TANDEM_ROOT/scripts/build-image.sh"
"$TANDEM_ROOT/scripts/kvm-probe.sh"

# A leftover from an earlier run that was killed hard.
if virsh_q dominfo "$DOMAIN" >/dev/null 2>&1; then
    say "demo: removing a leftover $DOMAIN"
    virsh_q destroy "$DOMAIN" >/dev/null 2>&1 || true
    virsh_q undefine "$DOMAIN" >/dev/null
fi

serial=$tmp/serial.log
hostd_log=$tmp/hostd.log
state=$tmp/state
"$TANDEM_ROOT/scripts/render-domain.sh" "$DOMAIN" dbus "$serial" >"$tmp/domain.xml"
virsh_q define "$tmp/domain.xml" >/dev/null
defined=1
virsh_q start --paused "$DOMAIN" >/dev/null
start=${EPOCHREALTIME/./}

milestone() {
    local us=$((${EPOCHREALTIME/./} - start))
    printf '[%4d.%ds] %s\n' $((us / 1000000)) $((us / 100000 % 10)) "$*"
}

milestone "$DOMAIN started paused (serial log: $serial)"

# tandem-viewer on the desktop from power-on, over TLS with a one-use ticket: a window when there
# is a display, else headless, filming the boot into $FILMSTRIP.
start_viewer() {
    local ticket mode
    ticket=$("$TICKET_TOOL" mint --key "$tmp/ticket-private.pem" --desktop "$DOMAIN" --user "$USER_NAME" \
        --host "127.0.0.1:$VIEWER_PORT" --cert "$state/hostd-cert.pem" --ttl 60)
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
        mode=(--timeout 86400)
        milestone "tandem-viewer opening a window (click to type into the desktop, Ctrl+Alt releases)"
    else
        rm -rf "$FILMSTRIP"
        mkdir -p "$FILMSTRIP"
        mode=(--headless --out "$FILMSTRIP" --filmstrip-interval 500 --timeout 86400)
        milestone "tandem-viewer headless (no DISPLAY): filming the boot into $FILMSTRIP"
    fi
    printf '%s\n' "$ticket" >"$tmp/ticket"
    "$VIEWER" "${mode[@]}" --ticket-file "$tmp/ticket" 2>"$tmp/viewer.log" &
    viewer_pid=$!
}
USER_NAME=${SUDO_USER:-${USER:-demo}}

: >"$hostd_log"
if [ -x "$HOSTD" ]; then
    mkdir -p "$state"
    # The broker's part, until it exists: a ticket key pair, and a ticket minted below.
    "$TICKET_TOOL" keygen "$tmp/ticket-private.pem" "$tmp/ticket-public.pem" >/dev/null
    cat >"$tmp/hostd.conf" <<CONF
[Hostd]
URI=$LIBVIRT_URI
StateDirectory=$state
Domains=$DOMAIN
ThumbnailInterval=1

[Viewers]
Listen=127.0.0.1:$VIEWER_PORT
TicketPublicKey=$tmp/ticket-public.pem
CONF
    "$HOSTD" --check-config --config "$tmp/hostd.conf" >"$tmp/check-config.log" 2>&1 ||
        { cat "$tmp/check-config.log" >&2; die "demo: hostd rejects its config $tmp/hostd.conf"; }
    TANDEM_LOG_STDERR=1 "$HOSTD" --config "$tmp/hostd.conf" 2>"$hostd_log" &
    hostd_pid=$!
    milestone "hostd running (pid $hostd_pid, log: $hostd_log)"
    t0=$SECONDS
    until grep -q "$DOMAIN: display attached" "$hostd_log"; do
        kill -0 "$hostd_pid" 2>/dev/null || { tail -n 20 "$hostd_log" >&2; die "demo: hostd exited"; }
        ((SECONDS - t0 < ATTACH_TIMEOUT)) ||
            { tail -n 20 "$hostd_log" >&2; die "demo: hostd did not attach within ${ATTACH_TIMEOUT} s"; }
        sleep 0.2
    done
    milestone "hostd attached to $DOMAIN's display"
    echo "           live thumbnail: $state/thumbnails/$DOMAIN-0.jpg"
    start_viewer
else
    say "demo: no hostd at $HOSTD yet (not built in this tree): watching the guest alone"
fi

virsh_q resume "$DOMAIN" >/dev/null
milestone "$DOMAIN resumed"

# Sets NEW to the complete lines FILE gained since byte offset in variable OFFVAR; advances it.
NEW=""
new_lines() {
    local file=$1 LC_ALL=C chunk
    local -n off=$2
    chunk=$(tail -c +$((off + 1)) "$file" 2>/dev/null; echo .)
    chunk=${chunk%.}
    chunk=${chunk%"${chunk##*$'\n'}"} # keep whole lines only
    off=$((off + ${#chunk}))
    NEW=$chunk
}

# shellcheck disable=SC2034 # hostd_off is advanced through new_lines' nameref
hostd_off=0 logins=0 agent_ports=0
deadline=$((SECONDS + ${TANDEM_DEMO_SECONDS:-0}))
while :; do
    new_lines "$hostd_log" hostd_off
    while IFS= read -r line; do
        case "$line" in
            *": display attached"*) ;; # already said
            *": first frame "*) milestone "first frame ${line##*: first frame }" ;;
            *": mode "*) milestone "console mode ${line##*: mode }" ;;
            *"viewer "*" watching "*) milestone "viewer connected over TLS: ${line#*: viewer *: }" ;;
            *"ticket rejected"*) milestone "viewer refused: ${line##*ticket rejected: }" ;;
            # The hand-off: the hypervisor path until guestd says hello, and back when it is lost.
            *": agent active ("*) milestone "agent active: ${line##*: agent active }" ;;
            *": agent lost ("*) milestone "agent lost ${line##*: agent lost }" ;;
            *": agent misbehaved ("*) milestone "agent dropped: ${line##*: agent misbehaved }" ;;
        esac
    done <<<"$NEW"
    n=$(grep -c "agent port org.tandem.agent.0 is" "$serial" 2>/dev/null || true)
    while ((agent_ports < n)); do
        agent_ports=$((agent_ports + 1))
        milestone "guest $(grep -o 'agent port org.tandem.agent.0 is [^ ]*' "$serial" | tail -n1)"
    done
    # The login prompt ends without a newline: count prompts, not lines.
    n=$({ grep -o 'login:' "$serial" 2>/dev/null || true; } | wc -l)
    while ((logins < n)); do
        logins=$((logins + 1))
        milestone "guest at its login prompt (log in as root on the console, no password)"
    done
    if [ -n "$viewer_pid" ] && ! kill -0 "$viewer_pid" 2>/dev/null; then
        wait "$viewer_pid" && status=0 || status=$?
        milestone "tandem-viewer exited (status $status): $(tail -n 1 "$tmp/viewer.log" 2>/dev/null)"
        viewer_pid=""
    fi
    if [ -n "$hostd_pid" ] && ! kill -0 "$hostd_pid" 2>/dev/null; then
        tail -n 20 "$hostd_log" >&2
        die "demo: hostd exited"
    fi
    if [ "${TANDEM_DEMO_SECONDS:-0}" -gt 0 ] && ((SECONDS >= deadline)); then
        break
    fi
    sleep 0.5
done
