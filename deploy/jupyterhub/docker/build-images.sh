#!/usr/bin/env bash
# Builds the single-user images of the Docker deployment from this checkout:
#   IMAGE        Jupyter server + jupyter-mcp-ext + jupyter-resource-usage (the default template)
#   SCIPY_IMAGE  the same plus SCIPY_PACKAGES (the "SciPy" template)
# on BASE_IMAGE. Production: BASE_IMAGE=quay.io/jupyter/base-notebook (a Jupyter docker-stacks
# image). Without BASE_IMAGE, a local Debian bookworm base is made with debootstrap, for machines
# that reach no image registry (tests, CI); it is built once and kept (`docker image inspect`).
#
# jupyter-mcp-ext's wheel is built on this host, its dependencies downloaded as wheels for the base
# image's Python (asked from the image itself), and the image installs them with
# `pip install --no-index` (pip inside a build may not reach a package index). The dependency
# wheels are kept in CACHE_DIR and fetched again only when the requirements change; the project's
# wheel is rebuilt every run. PIP_OPTIONS="" lets pip in the build use the index too.
#
# Usage: deploy/jupyterhub/docker/build-images.sh   (as a user who may run docker; root for the
# local base: debootstrap needs it)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CHECKOUT=$(cd "$HERE/../../.." && pwd)
CACHE_DIR=${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jupyter-mcp-ext-docker}
PYTHON=${PYTHON:-python3}
LOCAL_BASE=${LOCAL_BASE:-jupyter-mcp-ext/base:bookworm}
BASE_IMAGE=${BASE_IMAGE:-$LOCAL_BASE}
IMAGE=${IMAGE:-jupyter-mcp-ext/singleuser:latest}
SCIPY_IMAGE=${SCIPY_IMAGE:-jupyter-mcp-ext/singleuser-scipy:latest}
SCIPY_PACKAGES=${SCIPY_PACKAGES:-numpy pandas}
PIP_OPTIONS=${PIP_OPTIONS---no-index}
# The single-user server's jupyterhub matches the hub's (the hub host's version when installed).
HUB_VERSION=${HUB_VERSION:-$("$PYTHON" -c 'import jupyterhub; print(jupyterhub.__version__)' 2>/dev/null || true)}

CONTEXT=$CACHE_DIR/context
DEPS=$CONTEXT/wheels/deps
PROJECT=$CONTEXT/wheels/project

log() { echo "build-images: $*" >&2; }

debian_mirror() {
    # The first Debian mirror apt uses on this host (deb822 .sources or one-line sources.list).
    local uri
    uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
    [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

build_local_base() {
    if docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
        log "base image $LOCAL_BASE: cached"
        return
    fi
    command -v debootstrap >/dev/null || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
    local mirror rootfs
    mirror=${DEBIAN_MIRROR:-$(debian_mirror)}
    mkdir -p "$CACHE_DIR"
    rootfs=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
    # shellcheck disable=SC2064  # expand now: the trap removes this very directory
    trap "rm -rf '$rootfs'" EXIT
    log "base image $LOCAL_BASE: debootstrap bookworm from $mirror (a few minutes)"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        bookworm "$rootfs" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1 \
        || { tail -n 20 "$CACHE_DIR/debootstrap.log" >&2; exit 1; }
    # What docker-stacks images provide and the Dockerfile relies on: the user jovyan (uid 1000,
    # group users) owning a Python environment on PATH, and /home/jovyan/work for the notebooks
    # volume (a new named volume takes this directory's owner).
    echo 'jovyan:x:1000:100::/home/jovyan:/bin/bash' >>"$rootfs/etc/passwd"
    echo 'jovyan:*:19000:0:99999:7:::' >>"$rootfs/etc/shadow"
    chroot "$rootfs" python3 -m venv /opt/venv
    mkdir -p "$rootfs/home/jovyan/work"
    chown -R 1000:100 "$rootfs/home/jovyan" "$rootfs/opt/venv"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'USER jovyan' \
        --change 'WORKDIR /home/jovyan' \
        --change 'CMD ["jupyterhub-singleuser"]' \
        - "$LOCAL_BASE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
    log "base image $LOCAL_BASE: built"
}

requirements() {
    # What the image installs before the project: its dependencies, the single-user server
    # (jupyterhub), per-user memory display (jupyter-resource-usage) and the Python kernel.
    "$PYTHON" - "$CHECKOUT/pyproject.toml" <<'EOF'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
EOF
    echo "jupyterhub${HUB_VERSION:+==$HUB_VERSION}"
    echo "jupyter-resource-usage"
    echo "ipykernel"
}

build_wheels() {
    mkdir -p "$DEPS"
    local python arch wanted
    read -r python arch < <(docker run --rm --entrypoint python3 "$BASE_IMAGE" \
        -c 'import platform; print(platform.python_version(), platform.machine())')
    wanted=$(requirements; echo "# template extras: $SCIPY_PACKAGES; for Python $python on $arch")
    if [ -f "$DEPS/requirements.txt" ] && [ "$wanted" = "$(cat "$DEPS/requirements.txt")" ]; then
        log "dependency wheels: cached in $DEPS"
    else
        log "dependency wheels: downloading for Python $python on $arch into $DEPS"
        echo "$wanted" >"$DEPS/requirements.in"
        # Binary wheels only: what pip can fetch for another Python than the host's.
        # shellcheck disable=SC2086  # SCIPY_PACKAGES is a list of names
        "$PYTHON" -m pip download --quiet --dest "$DEPS" --only-binary=:all: \
            --python-version "$python" --implementation cp --platform "manylinux_2_28_$arch" \
            --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" --platform any \
            -r "$DEPS/requirements.in" $SCIPY_PACKAGES
        mv "$DEPS/requirements.in" "$DEPS/requirements.txt"
    fi
    rm -rf "$PROJECT"
    log "jupyter-mcp-ext wheel: building from $CHECKOUT"
    "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$PROJECT" "$CHECKOUT"
}

build_image() {
    local tag=$1 extra=$2
    cp "$HERE/kernels_die_first.py" "$CONTEXT/"
    log "image $tag on $BASE_IMAGE${extra:+ with $extra}"
    docker build --quiet --force-rm --file "$HERE/Dockerfile" \
        --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        --build-arg "PIP_OPTIONS=$PIP_OPTIONS" \
        --build-arg "EXTRA_PACKAGES=$extra" \
        --tag "$tag" "$CONTEXT" >/dev/null
}

if [ "$BASE_IMAGE" = "$LOCAL_BASE" ]; then
    build_local_base
fi
build_wheels
build_image "$IMAGE" ""
build_image "$SCIPY_IMAGE" "$SCIPY_PACKAGES"
log "done: $IMAGE $SCIPY_IMAGE"
