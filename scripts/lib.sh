# Shared helpers for Tandem's scripts: sourced, never run.
# Sets TANDEM_ROOT (the repo) and TANDEM_CACHE (downloads and the demo image).

TANDEM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TANDEM_CACHE=${TANDEM_CACHE:-/var/cache/tandem}
TANDEM_IMAGE_DIR=${TANDEM_IMAGE_DIR:-$TANDEM_CACHE/image}
TANDEM_RUN=/run/tandem
LIBVIRT_URI=qemu:///system

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "$1 needs root (it installs packages and runs libvirtd)"
}

virsh_q() { virsh -q -c "$LIBVIRT_URI" "$@"; }

# Brings libvirt up for this script and, at exit, down again only when this call started it
# (another tandem run, or the system, may own a running libvirtd).
libvirt_up_scoped() {
    if virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1; then
        "$TANDEM_ROOT/scripts/libvirt.sh" up # still fixes /dev/kvm; starts nothing
        LIBVIRT_OWNED=0
    else
        LIBVIRT_OWNED=1
        "$TANDEM_ROOT/scripts/libvirt.sh" up
    fi
}

libvirt_down_scoped() {
    if [ "${LIBVIRT_OWNED:-0}" = 1 ]; then
        "$TANDEM_ROOT/scripts/libvirt.sh" down
        LIBVIRT_OWNED=0
    fi
}
