#!/usr/bin/env bash
# Builds the demo desktop (kernel + initramfs) from Debian packages into $TANDEM_IMAGE_DIR:
#   vmlinuz, initrd.img, cmdline (the kernel command line domains must use), stamp.
# Downloads are kept in $TANDEM_CACHE/debs; the image is rebuilt only when an input changed.
# Optional: TANDEM_GUESTD=/path/to/tandem-guestd is installed as /usr/bin/tandem-guestd, stripped,
# with the shared libraries it loads (ldd's list and the dynamic loader: Debian has no static
# libsystemd). scripts/test.sh and demo.sh pass build/guestd/tandem-guestd (no sanitizers).
# With it (gmedia): dbus-daemon (the host's Debian binary and its libraries) for the system bus,
# org.tandem.Media1's policy, tandem-media-send from beside tandem-guestd (or TANDEM_MEDIA_SEND),
# and test clips in /usr/share/tandem/media made by tandem-media-gen (TANDEM_MEDIA_GEN, else
# tools/tandem-media-gen of the same build; without it the image has no clips).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEBS=$TANDEM_CACHE/debs
OUT=$TANDEM_IMAGE_DIR
ROOTFS_SRC=$TANDEM_ROOT/scripts/image/rootfs
GUESTD=${TANDEM_GUESTD:-}
# gmedia: the media client and clip maker, from guestd's build unless given
MEDIA_SEND=${TANDEM_MEDIA_SEND:-$([ -n "$GUESTD" ] && echo "$(dirname "$GUESTD")/tandem-media-send" || true)}
MEDIA_GEN=${TANDEM_MEDIA_GEN:-$([ -n "$GUESTD" ] && echo "$(dirname "$GUESTD")/../tools/tandem-media-gen" || true)}
[ -n "$MEDIA_SEND" ] && [ -x "$MEDIA_SEND" ] || MEDIA_SEND=
[ -n "$MEDIA_GEN" ] && [ -x "$MEDIA_GEN" ] || MEDIA_GEN=
# Load order matters: each needs the ones before it.
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console)
# --- vmaudio: the VM's sound card and a tone player (opt-in: TANDEM_IMAGE_SOUND=1) ------------
# Debian's cloud kernel has no sound at all (CONFIG_SOUND unset), so a sound image takes the generic
# kernel instead (linux-image-amd64, with the same virtio modules) and adds the AC97 driver (QEMU's
# <sound model='ac97'/>), which init loads from /lib/modules/sound.list, and the tone player
# tests/guest/tandem-tone (TANDEM_TONE=its path) as /usr/bin/tandem-tone.
SOUND=${TANDEM_IMAGE_SOUND:-}
TONE=${TANDEM_TONE:-}
SOUND_MODULES=(soundcore snd snd-timer snd-pcm ac97_bus snd-ac97-codec snd-intel8x0)
resolve_sound_kernel() {
    apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
        sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*-amd64\) (= \([^)]*\)).*/\1 \2/p' | head -n1
}
install_sound() { # ROOT MODDIR
    local root=$1 moddir=$2 m
    [ -n "$SOUND" ] || return 0
    for m in "${SOUND_MODULES[@]}"; do install_module "$moddir" "$m" "$root/lib/modules"; done
    printf '%s\n' "${SOUND_MODULES[@]}" >"$root/lib/modules/sound.list"
    [ -z "$TONE" ] || install_dynamic "$TONE" "$root" tandem-tone
    say "image: with sound (${SOUND_MODULES[*]})${TONE:+ and tandem-tone}"
}
# --- end vmaudio -------------------------------------------------------------------------------
# tty0 last: it becomes /dev/console, so boot messages and init's output are on the VGA screen.
CMDLINE="console=ttyS0 console=tty0 panic=10"

candidate() { apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n1; }

# The real kernel package behind the linux-image-cloud-amd64 metapackage, as "name version".
resolve_kernel() {
    apt-cache show --no-all-versions linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*-cloud-amd64\) (= \([^)]*\)).*/\1 \2/p' | head -n1
}

# Prints the path of PKG's .deb at VERSION in $DEBS, downloading it only when absent.
fetch_deb() {
    local pkg=$1 ver=$2 f
    for f in "$DEBS/${pkg}"_*.deb; do
        [ -f "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && { echo "$f"; return; }
    done
    say "image: downloading $pkg $ver"
    (cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2)
    for f in "$DEBS/${pkg}"_*.deb; do
        [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && { echo "$f"; return; }
    done
    die "image: $pkg $ver downloaded but not found in $DEBS"
}

# Copies module NAME into DEST uncompressed (busybox insmod reads no .xz/.zst), unless built in.
install_module() {
    local moddir=$1 name=$2 dest=$3 f
    f=$(find "$moddir/kernel" -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" \
        -o -name "$name.ko.gz" | head -n1)
    case "$f" in
        *.ko) cp "$f" "$dest/$name.ko" ;;
        *.xz) xz -dc "$f" >"$dest/$name.ko" ;;
        *.zst) zstd -qdc "$f" >"$dest/$name.ko" ;;
        *.gz) gzip -dc "$f" >"$dest/$name.ko" ;;
        "") grep -q "/$name.ko\$" "$moddir/modules.builtin" || die "image: module $name not found"
            say "image: $name is built into the kernel" ;;
    esac
}

# The shared libraries (and the dynamic loader) PROG loads, one absolute path a line.
guestd_closure() {
    ldd "$1" | sed -n 's/.*=> \(\/[^ ]*\) (0x.*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p' | LC_ALL=C sort -u
}

# Installs PROG as /usr/bin/NAME in ROOT with its libraries at their own paths, all stripped.
install_dynamic() {
    local prog=$1 root=$2 name=$3 lib dest
    [ -x "$prog" ] || die "image: $prog is not an executable"
    install -D -m 755 "$prog" "$root/usr/bin/$name"
    strip --strip-unneeded "$root/usr/bin/$name"
    while read -r lib; do
        dest=$root$(readlink -f "$lib")
        [ -e "$dest" ] && continue
        install -D -m 755 "$(readlink -f "$lib")" "$dest"
        strip --strip-unneeded "$dest" 2>/dev/null || true
        # The name the binary asks for, when it is a symlink (libc.so.6 -> libc-2.36.so etc.).
        [ "$(readlink -f "$lib")" = "$lib" ] || { mkdir -p "$root$(dirname "$lib")"; ln -sf "$(readlink -f "$lib")" "$root$lib"; }
    done < <(guestd_closure "$prog")
}

mkdir -p "$DEBS" "$OUT"
read -r kpkg kver < <(resolve_kernel) || true
[ -n "${kpkg:-}" ] || die "image: cannot resolve linux-image-cloud-amd64 (run apt-get update?)"
[ -z "$SOUND" ] || read -r kpkg kver < <(resolve_sound_kernel) || die "image: cannot resolve linux-image-amd64" # vmaudio
bbver=$(candidate busybox-static)
[ -n "$bbver" ] || die "image: no busybox-static in the apt lists"

stamp="kernel=$kpkg $kver
busybox=$bbver
cmdline=$CMDLINE
scripts=$(find "$0" "$ROOTFS_SRC" -type f -print0 | LC_ALL=C sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)
guestd=$([ -n "$GUESTD" ] && sha256sum <"$GUESTD" | cut -d' ' -f1 || echo none)
sound=${SOUND:+yes} tone=$([ -n "$TONE" ] && sha256sum <"$TONE" | cut -d' ' -f1 || echo none)
guestd_libs=$([ -n "$GUESTD" ] && guestd_closure "$GUESTD" | xargs -r sha256sum | cut -d' ' -f1 | sha256sum | cut -d' ' -f1 || echo none)
media=$([ -n "$GUESTD" ] && cat /usr/bin/dbus-daemon "$TANDEM_ROOT/guestd/org.tandem.Media1.conf" ${MEDIA_SEND:+"$MEDIA_SEND"} ${MEDIA_GEN:+"$MEDIA_GEN"} | sha256sum | cut -d' ' -f1 || echo none)"
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$stamp" ] &&
    [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initrd.img" ]; then
    say "image: up to date in $OUT ($kpkg $kver)"
    exit 0
fi

kdeb=$(fetch_deb "$kpkg" "$kver")
bbdeb=$(fetch_deb busybox-static "$bbver")

say "image: building $OUT ($kpkg $kver, busybox $bbver)"
work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$kdeb" "$work/kernel"
dpkg-deb -x "$bbdeb" "$work/busybox"

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,run,tmp,root,lib/modules,usr/bin,var/log}
ln -s bin "$root/sbin"
ln -s ../run "$root/var/run" # /var/run/utmp: busybox getty and login record logons there
ln -s ../bin "$root/usr/sbin"
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
cp -R "$ROOTFS_SRC/." "$root/"
chmod 600 "$root/etc/shadow"
chmod 700 "$root/root"
mknod -m 600 "$root/dev/console" c 5 1

moddir=$(echo "$work"/kernel/lib/modules/*)
for m in "${MODULES[@]}"; do install_module "$moddir" "$m" "$root/lib/modules"; done
install_sound "$root" "$moddir" # vmaudio

if [ -n "$GUESTD" ]; then
    install_dynamic "$GUESTD" "$root" tandem-guestd
    say "image: with agent $GUESTD ($(du -sh "$root/usr/bin/tandem-guestd" | cut -f1), libraries $(guestd_closure "$GUESTD" | xargs -r readlink -f | sed "s|^|$root|" | xargs du -ch | tail -n1 | cut -f1))"
fi

# --- gmedia: the system bus, org.tandem.Media1's policy, tandem-media-send, test clips -----------
if [ -n "$GUESTD" ]; then
    [ -x /usr/bin/dbus-daemon ] || die "image: no /usr/bin/dbus-daemon (./tandem deps)"
    install_dynamic /usr/bin/dbus-daemon "$root" dbus-daemon
    install -D -m 644 "$TANDEM_ROOT/guestd/org.tandem.Media1.conf" "$root/usr/share/dbus-1/system.d/org.tandem.Media1.conf"
    [ -z "$MEDIA_SEND" ] || install_dynamic "$MEDIA_SEND" "$root" tandem-media-send
    mkdir -p "$root/usr/share/tandem/media"
    if [ -n "$MEDIA_GEN" ]; then
        "$MEDIA_GEN" vp8 "$root/usr/share/tandem/media/test.ivf" --seconds 2 --size 320x240 >&2
        "$MEDIA_GEN" opus "$root/usr/share/tandem/media/test.opus" --seconds 2 --tone 440 >&2
    else
        say "image: no tandem-media-gen, no test clips in /usr/share/tandem/media"
    fi
    say "image: with dbus-daemon$([ -n "$MEDIA_SEND" ] && echo ", tandem-media-send") and media clips ($(du -sh "$root/usr/share/tandem/media" | cut -f1))"
fi
# --- end gmedia ---------------------------------------------------------------------------------

(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) |
    zstd -q -19 -T0 >"$work/initrd.img"
cp "$work"/kernel/boot/vmlinuz-* "$work/vmlinuz"
echo "$CMDLINE" >"$work/cmdline"
rm -f "$OUT/stamp"
mv -f "$work/vmlinuz" "$work/initrd.img" "$work/cmdline" "$OUT/"
printf '%s\n' "$stamp" >"$OUT/stamp"
say "image: built $OUT (initrd $(du -h "$OUT/initrd.img" | cut -f1))"
