#!/usr/bin/env bash
# Installs from Debian what Tandem needs to build, test and run its demo; only what is missing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PACKAGES=(
    # build
    meson ninja-build pkg-config gcc clang
    libvirt-dev libsystemd-dev libturbojpeg0-dev libjpeg-dev libpng-dev
    libzstd-dev zlib1g-dev libssl-dev libsqlite3-dev libsdl2-dev
    libisal-dev  # rudp's Reed-Solomon FEC
    libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev  # the broker's REST API and tandemctl
    openssl  # the demo's broker certificate (for 127.0.0.1)
    libx11-dev libxfixes-dev libxrandr-dev  # tandem-guestd-session (X11 clipboard, windows, RandR)
    libxml2-dev  # broker: template domain XML -> desktop XML
    libopus-dev  # vmaudio: hostd encodes the VM's sound to Opus (and decodes the viewer's microphone)
    # hypervisor
    libvirt-daemon-system libvirt-clients qemu-system-x86
    qemu-utils  # qemu-img: libvirt's storage driver makes the desktops' qcow2 overlays with it
    # demo image
    busybox-static cpio zstd
    # tests (Xvfb, xdotool and xwd: tandem-viewer's window test; ip and ping: the link emulator's)
    python3 socat xvfb xdotool x11-apps iproute2 iputils-ping
    dbus-daemon  # test-guestd-logind: a private bus for its logind-like service
    # tests of tandem-guestd-session: an EWMH window manager, X clipboard and RandR clients,
    # and python3-xlib for test windows whose title, icon and state the test controls
    openbox xclip x11-xserver-utils python3-xlib
    # benchmarks: tjbench, the reference bench-encode compares the JPEG path with;
    # TigerVNC's viewer, the VNC client bench-wire-bytes counts QEMU's VNC server's bytes to
    libjpeg-turbo-progs tigervnc-viewer
    # media (issue 7): the viewer's VP8/H.264 decode, tandem-media-gen's and bench-media's encoders
    # (libavcodec59 brings libvpx, libx264 and libopus); libavformat: the tests' reference demuxer
    libavcodec-dev libavformat-dev libavutil-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    say "deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

need_root "installing ${missing[*]}"
say "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
