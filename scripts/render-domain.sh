#!/usr/bin/env bash
# render-domain.sh NAME dbus|vnc SERIAL_LOG: prints the demo desktop's libvirt XML, from
# demo-domain.xml.in and the image in $TANDEM_IMAGE_DIR (tests/tandemtest.py does the same).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 3 ] || die "usage: $0 NAME dbus|vnc SERIAL_LOG"
name=$1 display=$2 serial_log=$3
case "$display" in
    dbus) graphics="<graphics type='dbus' p2p='yes'><audio id='1'/></graphics>" ;;
    vnc) graphics="<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>" ;;
    *) die "display must be dbus or vnc, not \`$display'" ;;
esac
[ -f "$TANDEM_IMAGE_DIR/cmdline" ] || die "no image in $TANDEM_IMAGE_DIR (run ./tandem image)"

# Values are names, paths and a command line: escape what XML needs. Quoted replacements are
# literal (bash 5.2 otherwise expands '&' in them).
xml_escape() {
    local s=${1//&/"&amp;"}
    s=${s//</"&lt;"}; s=${s//>/"&gt;"}; s=${s//\'/"&apos;"}; s=${s//\"/"&quot;"}
    printf '%s' "$s"
}

xml=$(<"$TANDEM_ROOT/scripts/demo-domain.xml.in")
xml=${xml//@NAME@/"$(xml_escape "$name")"}
xml=${xml//@KERNEL@/"$(xml_escape "$TANDEM_IMAGE_DIR/vmlinuz")"}
xml=${xml//@INITRD@/"$(xml_escape "$TANDEM_IMAGE_DIR/initrd.img")"}
xml=${xml//@CMDLINE@/"$(xml_escape "$(<"$TANDEM_IMAGE_DIR/cmdline")")"}
xml=${xml//@SERIAL_LOG@/"$(xml_escape "$serial_log")"}
xml=${xml//@GRAPHICS@/"$graphics"}
xml=${xml//@TYPE@/"$(domain_type)"}
printf '%s\n' "$xml"
