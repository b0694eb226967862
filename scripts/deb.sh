#!/usr/bin/env bash
# Builds volman's Debian package with dpkg-deb (docs/operations.md):
#   scripts/deb.sh [--build DIR] [--out DIR]
# configures DIR (default build-deb; a release build, prefix /usr, no
# sanitizers), installs it into a staging tree, adds the conffile
# /etc/volman/volmand.conf (the example: every line commented out), the
# control file and the maintainer scripts, and writes
# OUT/volman_VERSION_ARCH.deb (default OUT: the repository), whose path it
# prints last. Needs meson, ninja, scdoc and dpkg-dev (scripts/deps.sh).
#
# The maintainer scripts enable volmand.service at installation but never
# start it (the operator does, after reading /etc/volman/volmand.conf), stop
# it at removal, and keep /var/lib/volman (every volume's data) at removal:
# only a purge deletes it, without asking, after unmounting what volmand
# mounted there.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$repo/build-deb"
out="$repo"
while (($#)); do
    case $1 in
    --build) build=$(realpath -m "$2"); shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    *) echo "deb.sh: unknown argument $1 (--build DIR, --out DIR)" >&2; exit 2 ;;
    esac
done
for tool in meson ninja dpkg-deb dpkg-shlibdeps scdoc; do
    command -v "$tool" >/dev/null || { echo "deb.sh: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done

logs=$(mktemp -d)
stage=$(mktemp -d)
trap 'rm -rf "$stage" "$logs"' EXIT

opts=(--prefix=/usr --sysconfdir=/etc --localstatedir=/var --buildtype=release -Db_sanitize=none
      -Dman=enabled -Dsystemdunitdir=/lib/systemd/system -Dtmpfilesdir=/usr/lib/tmpfiles.d
      -Dzshcompletiondir=/usr/share/zsh/vendor-completions)
if [[ -f "$build/build.ninja" ]]; then
    meson setup --reconfigure "$build" "$repo" "${opts[@]}" >"$logs/setup.log" || { cat "$logs/setup.log" >&2; exit 1; }
else
    rm -rf "$build"
    meson setup "$build" "$repo" "${opts[@]}" >"$logs/setup.log" || { cat "$logs/setup.log" >&2; exit 1; }
fi
# Only what gets installed (not the tests and benchmarks).
targets=$(meson introspect --targets "$build" | /usr/bin/python3 -c '
import json, os, sys
build = sys.argv[1]
for t in json.load(sys.stdin):
    if t.get("installed"):
        for f in t["filename"]:
            print(os.path.relpath(f, build))' "$build")
ninja -C "$build" $targets >"$logs/ninja.log" || { tail -n 40 "$logs/ninja.log" >&2; exit 1; }

version=$(meson introspect --projectinfo "$build" | sed -n 's/.*"version": *"\([^"]*\)".*/\1/p')
arch=$(dpkg --print-architecture)
pkg="$stage/pkg"
DESTDIR="$pkg" meson install -C "$build" --quiet --no-rebuild

# Debian's ways: binaries stripped, man pages compressed, the conffile, the
# copyright file.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/sbin/volmand" "$pkg/usr/bin/volman" \
    "$pkg/usr/libexec/volman/con-init"
find "$pkg/usr/share/man" -type f -exec gzip -9n {} +
install -D -m 0644 "$repo/dist/volmand.conf.example" "$pkg/etc/volman/volmand.conf"
install -d -m 0755 "$pkg/usr/share/doc/volman"
cat >"$pkg/usr/share/doc/volman/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: volman
Files: *
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF

# The shared libraries the programs need, as package dependencies.
mkdir -p "$stage/src/debian"
printf 'Source: volman\n\nPackage: volman\nArchitecture: any\n' >"$stage/src/debian/control"
depends=$(cd "$stage/src" && dpkg-shlibdeps -O "$pkg/usr/sbin/volmand" "$pkg/usr/bin/volman" 2>/dev/null |
          sed -n 's/^shlibs:Depends=//p')
# volmand dlopens libarchive (export, import) and GnuTLS (--listen) when it
# first needs them (docs/architecture.md): dpkg-shlibdeps cannot see those.
# The versions are Debian 12's.
depends="$depends, libarchive13 (>= 3.6.2), libgnutls30 (>= 3.7.9)"

mkdir -p "$pkg/DEBIAN"
cat >"$pkg/DEBIAN/control" <<EOF
Package: volman
Version: $version
Architecture: $arch
Maintainer: volman maintainers <volman@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
Depends: $depends
Recommends: systemd
Suggests: docker.io | podman, btrfs-progs, e2fsprogs
Section: admin
Priority: optional
Homepage: https://localhost/volman
Description: volume orchestrator for container platforms
 volmand keeps persistent volumes for tenant apps (local directories,
 memory-backed tmpfs with a hard size, loop images, btrfs subvolumes),
 serves a REST API on a unix socket, is a volume plugin for Docker and
 Podman and deploys apps through their Engine API. volman is its
 command-line client.
EOF
echo /etc/volman/volmand.conf >"$pkg/DEBIAN/conffiles"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
     sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"

cat >"$pkg/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# volman's postinst: makes /run/volman, enables volmand.service for the next
# boot, and never starts it (nor restarts it on upgrade).
set -e
if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
    if command -v systemd-tmpfiles >/dev/null 2>&1; then
        systemd-tmpfiles --create volman.conf >/dev/null 2>&1 || true
    fi
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper unmask volmand.service >/dev/null || true
        if deb-systemd-helper --quiet was-enabled volmand.service; then
            deb-systemd-helper enable volmand.service >/dev/null || true
        else
            deb-systemd-helper update-state volmand.service >/dev/null || true
        fi
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        if systemctl is-active --quiet volmand.service; then
            echo "volman: volmand is running the old version; restart it when convenient: systemctl restart volmand"
        else
            echo "volman: volmand.service is enabled but not started; see /etc/volman/volmand.conf, then: systemctl start volmand"
        fi
    fi
fi
exit 0
EOF
cat >"$pkg/DEBIAN/prerm" <<'EOF'
#!/bin/sh
# volman's prerm: stops volmand before its binary goes (not on upgrade: the
# running one keeps serving until the operator restarts it).
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    deb-systemd-invoke stop volmand.service >/dev/null 2>&1 || systemctl stop volmand.service || true
fi
exit 0
EOF
cat >"$pkg/DEBIAN/postrm" <<'EOF'
#!/bin/sh
# volman's postrm. Remove keeps /var/lib/volman (every volume's data) and the
# conffile; purge deletes both, without asking, after unmounting whatever
# volmand mounted under /var/lib/volman (tmpfs and loop volumes), and never
# crosses into a filesystem still mounted there.
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = remove ] && command -v deb-systemd-helper >/dev/null 2>&1; then
    deb-systemd-helper mask volmand.service >/dev/null || true
fi
if [ "$1" = purge ]; then
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper purge volmand.service >/dev/null || true
        deb-systemd-helper unmask volmand.service >/dev/null || true
    fi
    root=/var/lib/volman
    if [ -d "$root" ]; then
        # deepest first: a volume's mount before the folder under it
        awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo |
            sort -r | while read -r mp; do umount "$mp" 2>/dev/null || umount -l "$mp" || true; done
        rm -rf --one-file-system "$root" ||
            echo "volman: $root could not be removed entirely (something is still mounted there)" >&2
    fi
    rmdir /etc/volman 2>/dev/null || true
fi
exit 0
EOF
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

mkdir -p "$out"
deb="$out/volman_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
