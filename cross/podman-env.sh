# podman-env.sh: sourced by the image scripts. podman with the project's
# own storage (build/image/storage, the vfs driver: no overlay or fuse
# needed), runc, cgroupfs and no default ulimits, which is what works in
# a sandboxed build machine as well as on a plain host. CONTAINERS_CONF is
# written here, so nothing in /etc/containers is needed or changed.
img_dir=${IMAGE_DIR:-build/image}
mkdir -p "$img_dir/storage" "$img_dir/run"
img_dir=$(cd "$img_dir" && pwd)
cat > "$img_dir/containers.conf" <<CONF
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
CONF
export CONTAINERS_CONF="$img_dir/containers.conf"
pm() {
	# HEALTHCHECK timers need systemd; without it the check runs on demand.
	podman --root "$img_dir/storage" --runroot "$img_dir/run" --storage-driver vfs \
		--runtime runc --cgroup-manager cgroupfs --events-backend file "$@"
}
