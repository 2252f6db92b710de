#!/bin/sh
# image.sh: the edged container image for $ARCH (amd64 or arm64) from
# Debian bookworm packages and edged's .deb ($DEB), with no base image:
#
#   1. a minbase root with the .deb's Depends and Recommends (GStreamer's
#      plugins; mmdebstrap), cached as
#      build/pkgtest/rootfs-<arch>-<key>.tar.gz, the same cache (and key:
#      a hash of the package names, cross/userland.sh) the arm64 package
#      test uses;
#   2. the edged user and group with the fixed id 970, then the .deb
#      installed with dpkg (for arm64 under qemu-user), the container's
#      default config and the demo video added, and what a container never
#      reads (documentation but the copyright files, manual pages, locales,
#      apt's lists and caches) removed;
#   3. packed by `podman build` from packaging/container/Containerfile
#      (FROM scratch, one layer) and saved as a docker-archive, which both
#      podman load and docker load read:
#      dist/edged_<version>_<arch>-image.tar.
#
# It writes build/image/<arch>/report.txt: the image's size and the
# packages taking the most space.
set -eu

arch=${ARCH:?ARCH=amd64 or arm64}
deb=${DEB:?DEB=path of the .deb}
version=${VERSION:?VERSION=the package version}
revision=${REVISION:-unknown}
[ "$(id -u)" = 0 ] || { echo "image: needs root (chroot for dpkg)"; exit 1; }
. cross/binfmt.sh
need_binfmt "$arch" image
. cross/podman-env.sh
t0=$(date +%s)

cache=build/pkgtest
mkdir -p "$cache"
. cross/userland.sh
pkgs=$(userland_packages "$deb")
[ -n "$pkgs" ] || { echo "image: no Depends read from $deb" >&2; exit 1; }
key=$(printf 'bookworm minbase %s %s\n' "$arch" "$pkgs" | sha256sum | cut -c1-16)
tarball=$cache/rootfs-$arch-$key.tar.gz
if [ ! -f "$tarball" ]; then
	echo "image: building the $arch userland ($pkgs) into $tarball"
	mmdebstrap --quiet --variant=minbase --architectures="$arch" --include="$pkgs" bookworm "$tarball.tmp.tar.gz"
	mv "$tarball.tmp.tar.gz" "$tarball"
	echo "image: $arch userland built in $(( $(date +%s) - t0 )) s"
else
	echo "image: the $arch userland is cached ($tarball)"
fi

work=build/image/$arch
root=$work/root
rm -rf "$root" && mkdir -p "$root"
tar -xzf "$tarball" -C "$root"
chroot "$root" groupadd --system --gid 970 edged
chroot "$root" useradd --system --uid 970 --gid 970 --home-dir /var/lib/edged \
	--no-create-home --shell /usr/sbin/nologin --comment "edged camera inference daemon" edged
cp "$deb" "$root/tmp/edged.deb"
chroot "$root" dpkg -i /tmp/edged.deb >/dev/null
rm -f "$root/tmp/edged.deb"
[ "$(chroot "$root" id -u edged)" = 970 ] || { echo "image: the edged user is not uid 970" >&2; exit 1; }
# Packages the .deb's libraries pull in that a headless edged never loads:
# Mesa's GL drivers and the LLVM they compile shaders with (highgui links
# Qt and GTK, which link GL), GDAL's and PROJ's data, desktop data (icon
# themes, fonts, MIME and keyboard tables, ISO code lists), and perl
# (only perl-base, which dpkg's scripts use, is essential). They are
# purged with --force-depends; the check below proves that every library
# edged and its runtimes link is still there.
drop="libgl1-mesa-dri libllvm15 libz3-4 mesa-va-drivers mesa-vdpau-drivers mesa-vulkan-drivers
	proj-data gdal-data poppler-data iso-codes xkb-data shared-mime-info fonts-dejavu-core
	adwaita-icon-theme hicolor-icon-theme gtk-update-icon-cache libgtk-3-common dconf-service
	dconf-gsettings-backend perl perl-modules-5.36 libperl5.36"
present=$(for p in $drop; do chroot "$root" dpkg-query -W -f '${Package}\n' "$p" 2>/dev/null || true; done)
[ -z "$present" ] || chroot "$root" dpkg --purge --force-depends $present 2>&1 | grep -v "^dpkg: .*dependency problems\|depends on\|^ \|^(Reading\|^Removing\|^Purging\|warning: overriding problem" || true
missing=$(chroot "$root" sh -c 'ldd /usr/bin/edged /usr/lib/edged/*.so' | grep "not found" || true)
[ -z "$missing" ] || { echo "image: libraries missing after the purge:" >&2; echo "$missing" >&2; exit 1; }
install -D -m 0644 samples/demo.avi "$root/usr/share/edged/samples/demo.avi"
install -m 0640 packaging/container/edged.yaml "$root/etc/edged/edged.yaml"
chroot "$root" chown root:edged /etc/edged/edged.yaml
# What a container never reads. The copyright files stay: they are the
# licences of what the image holds.
find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright ! -path "*/doc/edged/*" -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/lintian" \
	"$root/usr/share/locale"/* "$root/var/cache/apt"/* "$root/var/lib/apt/lists"/* \
	"$root/var/cache/debconf"/*-old "$root/var/log"/* "$root/etc/machine-id"
cp "$root/var/lib/dpkg/status" "$work/status"
tar --numeric-owner --xattrs -C "$root" -cf "$work/root.tar" .

# An image tag allows [A-Za-z0-9_.-]: 0.0~git147.abc+dirty -> 0.0-git147.abc-dirty
tag=localhost/edged:$(printf '%s' "$version" | sed 's/[^A-Za-z0-9_.-]/-/g')-$arch
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cp packaging/container/Containerfile "$work/Containerfile"
pm build --quiet --format docker --arch "$arch" --os linux --no-cache \
	--build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg CREATED="$created" \
	-t "$tag" -f "$work/Containerfile" "$work" >/dev/null
mkdir -p dist
out=dist/edged_${version}_${arch}-image.tar
rm -f "$out"
pm save --quiet --format docker-archive -o "$out" "$tag"
rm -rf "$root" "$work/root.tar"

{
	echo "image $tag ($(pm image inspect --format '{{.Architecture}}' "$tag"))"
	echo "size: $(pm image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}') unpacked," \
		"$(stat -c %s "$out" | awk '{printf "%.1f MB", $1/1e6}') as $out"
	echo "built in $(( $(date +%s) - t0 )) s"
	echo "largest packages (installed size, MB):"
	awk '/^Package:/{p=$2} /^Installed-Size:/{printf "%8.1f  %s\n", $2/1024, p}'  "$work/status" | sort -rn | head -15
	echo "purged as never loaded (MB):" $(tar -xzf "$tarball" -O ./var/lib/dpkg/status | awk -v drop=" $(echo $drop) " '/^Package:/{p=$2} /^Installed-Size:/{if (index(drop, " " p " ")) s+=$2} END{printf "%.1f", s/1024}')
	echo "edged itself (MB): $(dpkg-deb -f "$deb" Installed-Size | awk '{printf "%.1f", $1/1024}')"
} > "$work/report.txt"
cat "$work/report.txt"
