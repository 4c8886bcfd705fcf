# shellcheck shell=bash
# Shared helpers for Tandem's scripts: sourced, never run.
# Sets TANDEM_ROOT (the repo) and TANDEM_CACHE (downloads and the demo image).

TANDEM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TANDEM_CACHE=${TANDEM_CACHE:-/var/cache/tandem}
TANDEM_IMAGE_DIR=${TANDEM_IMAGE_DIR:-$TANDEM_CACHE/image}
TANDEM_RUN=${TANDEM_RUN:-/run/tandem}
LIBVIRT_URI=qemu:///system

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "$1 needs root (it installs packages and runs libvirtd)"
}

virsh_q() { virsh -q -c "$LIBVIRT_URI" "$@"; }

# The type of the project's domains: TANDEM_DOMAIN_TYPE, else what scripts/kvm-probe.sh found,
# else qemu (TCG).
domain_type() {
    local t=${TANDEM_DOMAIN_TYPE:-}
    [ -n "$t" ] || t=$(head -n1 "$TANDEM_IMAGE_DIR/domain-type" 2>/dev/null || true)
    case "$t" in kvm) echo kvm ;; *) echo qemu ;; esac
}

# Brings libvirt up for this script, holding a lease on it until libvirt_down_scoped, which
# stops the daemons only if tandem started them and no other tandem run still uses them.
libvirt_up_scoped() {
    LIBVIRT_LEASED=1
    "$TANDEM_ROOT/scripts/libvirt.sh" up --lease $$
}

libvirt_down_scoped() {
    if [ "${LIBVIRT_LEASED:-0}" = 1 ]; then
        LIBVIRT_LEASED=0
        "$TANDEM_ROOT/scripts/libvirt.sh" down --lease $$
    fi
}
