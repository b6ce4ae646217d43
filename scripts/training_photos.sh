#!/usr/bin/env bash
# Fetch and unpack the licence-clean photos the shipped fast networks were trained on, into a folder OUTSIDE
# the repository (photos are never committed). Needs only Debian's package mirror.
#
#   bash scripts/training_photos.sh [DEST]      # default DEST: ~/.cache/nst-studio/training-photos
#
# DEST/photos/ then holds 30 photos (flat, renamed <source>-<name>), DEST/SOURCES.tsv says where each came
# from and under which licence. The sources and their copyright files (read before choosing):
#   mate-backgrounds 1.26.0-1          nature/*.jpg: GPL-2+ (Charles Barbin, Marco Cogoni, Jens Ansorg, ...)
#   plasma-workspace-wallpapers 5.27.5 the photographic wallpapers: GPL-2+ (KDE Visual Design Group)
#   python3-skimage 0.19.3             skimage/data: astronaut, rocket (public domain), coffee, chelsea,
#                                      camera (CC0), coins (no known restrictions); see skimage/data/_fetchers.py
# The abstract and illustrated wallpapers, and scikit-image's microscopy, text and stereo pictures (the
# Middlebury stereo pair has no clear licence) are left out. ../shared/images is kept out on purpose: its
# photos (tubingen, golden_gate, brad_pitt) are the unseen photos the quality figures are measured on.
set -euo pipefail
DEST="${1:-$HOME/.cache/nst-studio/training-photos}"
PACKAGES=(mate-backgrounds=1.26.0-1 plasma-workspace-wallpapers=4:5.27.5-2 python3-skimage=0.19.3-8)
MATE=usr/share/backgrounds/mate/nature
PLASMA=usr/share/wallpapers
SKIMAGE=usr/lib/python3/dist-packages/skimage/data

mkdir -p "$DEST/debs" "$DEST/unpacked" "$DEST/photos"
cd "$DEST/debs"
for spec in "${PACKAGES[@]}"; do
  name="${spec%%=*}"
  if ! ls "$name"_*.deb >/dev/null 2>&1; then
    # The pinned version where the mirror still has it, else the mirror's current one (said on stderr).
    apt-get download -q "$spec" 2>/dev/null || { echo "note: $spec not on the mirror; taking the current $name" >&2;
                                                 apt-get download -q "$name"; }
  fi
  mkdir -p "../unpacked/$name"
  dpkg-deb -x "$name"_*.deb "../unpacked/$name"
done
cd "$DEST"
: > SOURCES.tsv
take() {  # take PACKAGE PATH-INSIDE-IT NEW-NAME LICENCE
  cp "unpacked/$1/$2" "photos/$3"
  printf '%s\t%s\t%s\t%s\n' "$3" "$1" "$2" "$4" >> SOURCES.tsv
}
for n in Aqua Blinds Dune FreshFlower Garden GreenMeadow LadyBird RainDrops Storm TwoWings Wood YellowFlower; do
  take mate-backgrounds "$MATE/$n.jpg" "mate-$n.jpg" GPL-2+
done
for n in BytheWater ColdRipple DarkestHour EveningGlow FallenLeaf Grey Kite OneStandsOut Path summer_1am; do
  take plasma-workspace-wallpapers "$PLASMA/$n/contents/images/1920x1080.jpg" "plasma-$n.jpg" GPL-2+
done
take plasma-workspace-wallpapers "$PLASMA/ColorfulCups/contents/images/2560x1600.jpg" plasma-ColorfulCups.jpg GPL-2+
take plasma-workspace-wallpapers "$PLASMA/Volna/contents/images/5120x2880.jpg" plasma-Volna.jpg GPL-2+
for n in astronaut:public-domain coffee:CC0 chelsea:CC0 camera:CC0 coins:no-known-restrictions; do
  take python3-skimage "$SKIMAGE/${n%%:*}.png" "skimage-${n%%:*}.png" "${n#*:}"
done
take python3-skimage "$SKIMAGE/rocket.jpg" skimage-rocket.jpg public-domain
echo "$(ls photos | wc -l) photos in $DEST/photos (sources: $DEST/SOURCES.tsv)"
