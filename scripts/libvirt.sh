#!/usr/bin/env bash
# libvirt.sh up|down [--lease PID]: start virtlogd and libvirtd when no daemon answers (systemd
# is not PID 1 here), and stop later only the daemons this script started, as recorded in its
# state file. Runs of ./tandem that use libvirt hold a lease (their pid) between up and down;
# the daemons are stopped only when the last live lease goes. A plain "up" (by hand) holds a
# lease that only a plain "down" drops; a plain "down" stops the daemons whoever uses them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

STATE=$TANDEM_RUN/libvirt-started
LEASES=$TANDEM_RUN/libvirt-users
SOCK=/run/libvirt/libvirt-sock
WAIT_SECONDS=${TANDEM_LIBVIRT_TIMEOUT:-60}

answers() { virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1; }
# Is NAME running (zombies do not count: PID 1 here may not reap them)?
running() { ps -C "$1" -o stat= | grep -qv '^Z'; }
# Is PID still the live daemon NAME we started (not a zombie, not a recycled pid)?
alive() {
    local _pid comm state
    read -r _pid comm state _ 2>/dev/null <"/proc/$2/stat" || return 1
    [ "$comm" = "($1)" ] && [ "$state" != Z ]
}

# Leases other than our own whose holder lives ("manual" always does), space-separated.
other_leases() {
    local f holder out=""
    for f in "$LEASES"/*; do
        [ -e "$f" ] || continue
        holder=${f##*/}
        [ "$holder" = "$1" ] && continue
        if [ "$holder" = manual ] || [ -d "/proc/$holder" ]; then out+="$holder "; else rm -f "$f"; fi
    done
    printf '%s' "${out% }"
}

# Drop entries of daemons that are gone (an earlier run that died without "down").
prune_state() {
    [ -f "$STATE" ] || return 0
    local d pid kept=""
    while read -r d pid; do
        if alive "$d" "$pid"; then kept+="$d $pid"$'\n'; fi
    done <"$STATE"
    if [ -n "$kept" ]; then printf '%s' "$kept" >"$STATE"; else rm -f "$STATE"; fi
}

# Debian's udev makes /dev/kvm root:kvm 0660; without udev it may be root-only. libvirt then
# finds KVM "unusable" as libvirt-qemu while QEMU (opened as root) reports it enabled, and it
# re-probes QEMU's capabilities on every lookup: ~1 min per define. The demo still uses TCG.
fix_kvm_node() {
    [ -c /dev/kvm ] && getent group kvm >/dev/null || return 0
    [ "$(stat -c %G:%a /dev/kvm)" = kvm:660 ] && return 0
    chgrp kvm /dev/kvm && chmod 660 /dev/kvm
    say "libvirt: made /dev/kvm root:kvm 0660 as udev would"
}

up() {
    mkdir -p "$LEASES"
    touch "$LEASES/$1"
    fix_kvm_node
    if answers; then
        say "libvirt: already answering on $LIBVIRT_URI"
        return 0
    fi
    need_root "starting libvirtd"
    mkdir -p /var/log/libvirt /run/libvirt "$TANDEM_RUN"
    prune_state
    local started=()
    # Record each daemon (name and pid) before waiting, so that "down" can stop it even if we
    # fail below. With -d each daemon forks, writes /run/NAME.pid, and returns once ready.
    for d in virtlogd libvirtd; do
        running "$d" && continue
        "$d" -d
        started+=("$d")
        printf '%s %s\n' "$d" "$(cat "/run/$d.pid")" >>"$STATE"
    done
    # The first call waits for the QEMU driver to probe QEMU's capabilities (about 12 s here).
    local t0=$SECONDS
    while ((SECONDS - t0 < WAIT_SECONDS)); do
        if [ -S "$SOCK" ] && timeout "$WAIT_SECONDS" virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1; then
            say "libvirt: started ${started[*]:-nothing}; answering after $((SECONDS - t0)) s"
            return 0
        fi
        sleep 0.2
    done
    die "libvirt: $SOCK did not answer within ${WAIT_SECONDS} s (see /var/log/libvirt/)"
}

down() {
    local others
    if [ "$1" = manual ]; then
        rm -rf "$LEASES"
    else
        rm -f "$LEASES/$1"
        others=$(other_leases "$1")
        if [ -n "$others" ]; then
            [ -f "$STATE" ] && say "libvirt: still used (by tandem: $others): left running"
            return 0
        fi
    fi
    [ -f "$STATE" ] || { say "libvirt: nothing started by tandem"; return 0; }
    local d pid i
    # Stop in reverse order of start: libvirtd before virtlogd.
    while read -r d pid; do
        if alive "$d" "$pid"; then
            kill -TERM "$pid"
            for ((i = 0; i < 50; i++)); do alive "$d" "$pid" || break; sleep 0.2; done
            if alive "$d" "$pid"; then kill -KILL "$pid"; fi
            say "libvirt: stopped $d ($pid)"
        fi
    done < <(tac "$STATE")
    rm -f "$STATE"
}

holder=manual
if [ "${2:-}" = --lease ] && [ -n "${3:-}" ]; then holder=$3; fi
case "${1:-}" in
    up) up "$holder" ;;
    down) down "$holder" ;;
    *) die "usage: $0 up|down [--lease PID]" ;;
esac
