#!/usr/bin/env bash
# screen-content.sh: real screen content for the encoder's tests and benchmarks, into
# $TANDEM_CACHE/content/ (default /var/cache/tandem/content):
#   ui/     GNOME UI screenshots from Debian's gnome-user-docs (usr/share/help/C/gnome-help/figures)
#   photo/  desktop-base's full-screen wallpapers and boot backgrounds (PNG, 1280 pixels wide or more)
#   boot/   left alone: boot screens (PPM) captured from the demo guest by others
# The packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x`, never installed.
# A second run finds the stamp and downloads nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=$TANDEM_CACHE/content
packages=(gnome-user-docs desktop-base)
stamp=$dir/stamp

# Files in a directory (0 when it is absent).
count() {
    local n=0 f
    for f in "$1"/*; do [ -e "$f" ] && n=$((n + 1)); done
    echo "$n"
}

if [ -f "$stamp" ] && [ "$(count "$dir/ui")" -gt 0 ] && [ "$(count "$dir/photo")" -gt 0 ]; then
    say "screen-content: cached in $dir ($(count "$dir/ui") ui, $(count "$dir/photo") photo)"
    exit 0
fi

mkdir -p "$dir/debs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for p in "${packages[@]}"; do
    if ! ls "$dir/debs/${p}"_*.deb >/dev/null 2>&1; then
        say "screen-content: downloading $p"
        # apt-get download writes into the current directory; _apt cannot write a root-only one.
        (cd "$work" && { apt-get download -q "$p" 2>/dev/null || { apt-get update -q && apt-get download -q "$p"; }; })
        mv "$work/${p}"_*.deb "$dir/debs/"
    fi
    debs=("$dir/debs/${p}"_*.deb)
    dpkg-deb -x "${debs[-1]}" "$work/root"
done

# PNG width: the big-endian u32 at offset 16 (inside IHDR).
png_width() {
    od -An -tu1 -j16 -N4 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }'
}

rm -rf "$dir/ui.new" "$dir/photo.new"
mkdir -p "$dir/ui.new" "$dir/photo.new"
cp "$work"/root/usr/share/help/C/gnome-help/figures/*.png "$dir/ui.new/"
for f in "$work"/root/usr/share/desktop-base/*/grub/*.png "$work"/root/usr/share/plymouth/themes/*/*background*.png; do
    [ -f "$f" ] || continue
    [ "$(png_width "$f")" -ge 1280 ] || continue
    # theme-file.png: several themes use the same file names.
    theme=$(basename "$(dirname "$f")")
    [ "$theme" = grub ] && theme=$(basename "$(dirname "$(dirname "$f")")")
    cp "$f" "$dir/photo.new/${theme}-$(basename "$f")"
done
[ "$(count "$dir/ui.new")" -gt 0 ] || die "screen-content: gnome-user-docs has no figures"
[ "$(count "$dir/photo.new")" -gt 0 ] || die "screen-content: desktop-base has no large wallpapers"

rm -rf "$dir/ui" "$dir/photo"
mv "$dir/ui.new" "$dir/ui"
mv "$dir/photo.new" "$dir/photo"
mkdir -p "$dir/boot"
printf '%s\n' "$dir"/debs/*.deb > "$stamp"
say "screen-content: $(count "$dir/ui") ui screenshots, $(count "$dir/photo") wallpapers in $dir"
