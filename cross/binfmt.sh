# binfmt.sh, sourced: need_binfmt ARCH WHO makes sure the kernel runs ARCH
# binaries through qemu-user (binfmt_misc), with the F flag so that the
# interpreter also works inside a chroot, or exits saying how to get it.
# A fresh VM or mount namespace may have binfmt_misc unmounted (then
# installing qemu-user-static registered nothing): it is mounted and the
# entry enabled.
need_binfmt() {
	case "$1" in amd64) return 0;; arm64) q=qemu-aarch64;; *) q=qemu-$1;; esac
	[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
	if [ ! -e "/proc/sys/fs/binfmt_misc/$q" ] && command -v update-binfmts >/dev/null; then
		update-binfmts --enable "$q" || true
	fi
	if ! grep -qs '^enabled' "/proc/sys/fs/binfmt_misc/$q" || ! grep -qs '^flags:.*F' "/proc/sys/fs/binfmt_misc/$q"; then
		echo "$2: no $q binfmt_misc entry with the F flag;" \
			"install qemu-user-static (and binfmt-support), or run: update-binfmts --enable $q" >&2
		exit 1
	fi
}
