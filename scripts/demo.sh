#!/usr/bin/env bash
# demo.sh: boots the demo desktop `tandem-demo' under hostd, runs a tandem-broker with a pool
# holding it, connects tandem-viewer through the broker and prints milestones as they happen
# (broker up, pool created, display attached, ticket issued, first frame, mode changes, login
# prompt) until Ctrl-C; then removes everything it made. TANDEM_DEMO_SECONDS=N stops it after N
# seconds instead (for scripts).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DOMAIN=tandem-demo
HOSTD=${TANDEM_HOSTD:-$TANDEM_ROOT/build/hostd/tandem-hostd}
VIEWER=$TANDEM_ROOT/build/client/tandem-viewer
BROKER=$TANDEM_ROOT/build/broker/tandem-broker
CTL=$TANDEM_ROOT/build/broker/tandemctl
VIEWER_PORT=${TANDEM_DEMO_PORT:-7443}
BROKER_PORT=${TANDEM_DEMO_BROKER_PORT:-7444}
POOL=demo
HOST_NAME=demo-host
FILMSTRIP=$TANDEM_ROOT/build/demo-filmstrip
ATTACH_TIMEOUT=30

"$TANDEM_ROOT/scripts/deps.sh"
"$TANDEM_ROOT/scripts/build.sh" default

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-demo.XXXXXX")
hostd_pid=""
broker_pid=""
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
    if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid"
        wait "$broker_pid" 2>/dev/null || true
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

# tandem-viewer on the desktop from power-on, through the broker: `tandemctl connect' gets a
# desktop of the pool and a one-use ticket and runs the viewer with it (on a pipe). A window
# when there is a display, else headless, filming the boot into $FILMSTRIP.
start_viewer() {
    local mode
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
        mode=(--timeout 86400)
        milestone "tandem-viewer opening a window (click to type into the desktop, Ctrl+Alt releases)"
    else
        rm -rf "$FILMSTRIP"
        mkdir -p "$FILMSTRIP"
        mode=(--headless --out "$FILMSTRIP" --filmstrip-interval 500 --timeout 86400)
        milestone "tandem-viewer headless (no DISPLAY): filming the boot into $FILMSTRIP"
    fi
    "$CTL" connect "$POOL" --user "$USER_NAME" --viewer "$VIEWER" -- "${mode[@]}" 2>"$tmp/viewer.log" &
    viewer_pid=$!
}
USER_NAME=${SUDO_USER:-${USER:-demo}}
[[ $USER_NAME =~ ^[A-Za-z][A-Za-z0-9._@-]{0,62}$ ]] || USER_NAME=demo

# Waits until a command succeeds (what: for the error), checking that pid still runs.
wait_until() {
    local what=$1 pid=$2 log=$3 t0=$SECONDS
    shift 3
    until "$@" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "demo: $what: the process exited"; }
        ((SECONDS - t0 < ATTACH_TIMEOUT)) || { tail -n 20 "$log" >&2; die "demo: $what: not within ${ATTACH_TIMEOUT} s"; }
        sleep 0.2
    done
}

# The broker: its SQLite store and state in $tmp/broker, HTTPS on loopback with a certificate
# made for 127.0.0.1, which hostd and tandemctl verify.
start_broker() {
    local dir=$tmp/broker
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/tls-key.pem" \
        -out "$dir/tls-cert.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        >/dev/null 2>&1 || die "demo: openssl cannot make the broker's certificate"
    cat >"$dir/broker.conf" <<CONF
[Broker]
Database=$dir/broker.db
StateDirectory=$dir
Listen=127.0.0.1:$BROKER_PORT
TLSCertificate=$dir/tls-cert.pem
TLSKey=$dir/tls-key.pem
CONF
    TANDEM_LOG_STDERR=1 "$BROKER" --config "$dir/broker.conf" 2>"$broker_log" &
    broker_pid=$!
    export TANDEM_BROKER=https://127.0.0.1:$BROKER_PORT TANDEM_BROKER_CA=$dir/tls-cert.pem
    export TANDEM_TOKEN_FILE=$dir/admin.token
    unset TANDEM_TOKEN
    wait_until "broker up" "$broker_pid" "$broker_log" "$CTL" hosts
    milestone "broker up on $TANDEM_BROKER (pid $broker_pid, store: $dir/broker.db, log: $broker_log)"
    "$CTL" pools create "$POOL" --kind persistent >/dev/null
    "$CTL" desktops add --pool "$POOL" --domain "$DOMAIN" >/dev/null
    "$CTL" users add "$USER_NAME" >/dev/null
    "$CTL" tokens create host "$HOST_NAME" >"$tmp/host.token"
    chmod 600 "$tmp/host.token"
    milestone "pool $POOL created with desktop $DOMAIN; a host token for $HOST_NAME"
    echo "           the broker's view: TANDEM_BROKER=$TANDEM_BROKER TANDEM_BROKER_CA=$TANDEM_BROKER_CA \\"
    echo "               TANDEM_TOKEN_FILE=$TANDEM_TOKEN_FILE build/broker/tandemctl desktops"
}

: >"$hostd_log"
if [ -x "$HOSTD" ]; then
    mkdir -p "$state"
    broker_log=$tmp/broker.log
    start_broker
    cat >"$tmp/hostd.conf" <<CONF
[Hostd]
URI=$LIBVIRT_URI
StateDirectory=$state
Domains=$DOMAIN
ThumbnailInterval=1

[Viewers]
Listen=127.0.0.1:$VIEWER_PORT

[Broker]
URL=$TANDEM_BROKER
TokenFile=$tmp/host.token
HostName=$HOST_NAME
CA=$TANDEM_BROKER_CA
ReportSeconds=2
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
    # The desktop is placed once hostd's first report names it; tickets need the broker's key.
    wait_until "hostd's first report" "$hostd_pid" "$hostd_log" \
        bash -c '"$1" --json desktops show "$2" | grep -q "\"host\": *\"$3\""' _ "$CTL" "$DOMAIN" "$HOST_NAME"
    wait_until "the broker's ticket key" "$hostd_pid" "$hostd_log" grep -q "checked with the broker's key" "$hostd_log"
    milestone "hostd registered with the broker as $HOST_NAME and reporting (ticket key from the broker)"
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
hostd_off=0 viewer_off=0 logins=0 agent_ports=0
deadline=$((SECONDS + ${TANDEM_DEMO_SECONDS:-0}))
while :; do
    new_lines "$tmp/viewer.log" viewer_off
    while IFS= read -r line; do
        case "$line" in
            "tandemctl: desktop "*) milestone "ticket issued by the broker: ${line#tandemctl: }" ;;
        esac
    done <<<"$NEW"
    new_lines "$hostd_log" hostd_off
    while IFS= read -r line; do
        case "$line" in
            *": display attached"*) ;; # already said
            *": first frame "*) milestone "first frame ${line##*: first frame }" ;;
            *": mode "*) milestone "console mode ${line##*: mode }" ;;
            *"viewer "*" watching "*) milestone "viewer connected through the broker: ${line#*: viewer *: }" ;;
            *"ticket rejected"*) milestone "viewer refused: ${line##*ticket rejected: }" ;;
            *"Broker "*" unreachable"*) milestone "broker unreachable: hostd drops its reports, viewers go on" ;;
            *"Broker "*" answers again"*) milestone "broker answers again" ;;
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
