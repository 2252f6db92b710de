# userland.sh (sourced): the Debian packages a userland for edged's .deb
# holds, for the container image and the arm64 package test, which share
# one cached mmdebstrap root per architecture (build/pkgtest).
#
# userland_packages DEB prints the .deb's Depends and Recommends package
# names, sorted and comma-separated. The Recommends are GStreamer's
# plugins, which decode: keyframes, an RTSP stream decoded in full with no
# FPS cap, and the gst: presets need; apt installs them with the package.
userland_packages() {
	{ dpkg-deb -f "$1" Depends; echo ","; dpkg-deb -f "$1" Recommends; } |
		tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -v '^$' | sort -u | paste -sd, -
}
