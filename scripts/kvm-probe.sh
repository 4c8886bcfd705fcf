#!/usr/bin/env bash
# kvm-probe.sh: decides the domain type of the project's domains, once per machine. Boots the
# demo image under KVM and waits for its login prompt; writes `kvm' to $TANDEM_IMAGE_DIR/domain-type
# when it gets there, `qemu' (TCG) otherwise. On the project's machines KVM guests hang right after
# SeaBIOS, so the answer there is qemu; the result is cached, keyed by kernel, QEMU and image.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PROBE_SECONDS=${TANDEM_KVM_PROBE_SECONDS:-20}
out=$TANDEM_IMAGE_DIR/domain-type
key="$(uname -r) $(qemu-system-x86_64 --version | head -n1) $(cat "$TANDEM_IMAGE_DIR/stamp" 2>/dev/null | md5sum | cut -c1-12)"

if [ -f "$out" ] && [ "$(sed -n 2p "$out")" = "$key" ]; then
    say "kvm-probe: domains use type $(head -n1 "$out") (probed before)"
    exit 0
fi
write() { printf '%s\n%s\n' "$1" "$key" >"$out"; say "kvm-probe: domains use type $1 ($2)"; }

if [ ! -c /dev/kvm ]; then
    write qemu "no /dev/kvm"
    exit 0
fi

name=tandem-kvm-probe-$$
tmp=$(mktemp -d)
cleanup() {
    virsh_q destroy "$name" >/dev/null 2>&1 || true
    virsh_q undefine "$name" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
TANDEM_DOMAIN_TYPE=kvm "$TANDEM_ROOT/scripts/render-domain.sh" "$name" vnc "$tmp/serial.log" >"$tmp/domain.xml"
virsh_q define "$tmp/domain.xml" >/dev/null
if ! virsh_q start "$name" >/dev/null 2>"$tmp/start.err"; then
    write qemu "KVM domain does not start: $(head -c 200 "$tmp/start.err")"
    exit 0
fi
for ((i = 0; i < PROBE_SECONDS * 5; i++)); do
    if grep -q "login:" "$tmp/serial.log" 2>/dev/null; then
        write kvm "a KVM guest reached its login prompt"
        exit 0
    fi
    sleep 0.2
done
write qemu "a KVM guest did not reach its login prompt in ${PROBE_SECONDS} s"
