#!/usr/bin/env bash
# `meson install` into a temporary DESTDIR, then use the installed tree the way an
# out-of-tree user does: soname links, headers, nabla.pc and its pluginsdir, a program
# built with `pkg-config --cflags --libs nabla` that finds the installed plugins
# relative to the library (the installed tree is relocatable). Run by `meson test`
# (suite 'install'); tests/install/meson.build passes the build's settings as NBI_*
# environment variables.
set -euo pipefail

meson=$NBI_MESON builddir=$NBI_BUILDDIR prefix=$NBI_PREFIX libdir=$NBI_LIBDIR
includedir=$NBI_INCLUDEDIR bindir=$NBI_BINDIR pluginsdir=$NBI_PLUGINSDIR
soversion=$NBI_SOVERSION n_plugins=$NBI_PLUGINS sanitize=$NBI_SANITIZE
consumer_c=$NBI_CONSUMER_C square_c=$NBI_SQUARE_C
read -ra cc <<<"$NBI_CC"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nabla-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
errors=0
bad() { echo "FAIL: $*" >&2; errors=$((errors + 1)); }
ok() { echo "ok: $*"; }

# Relative libdir/includedir/bindir are under the prefix; absolute ones are kept.
under_prefix() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$prefix" "$1" ;; esac; }
libdir=$(under_prefix "$libdir") includedir=$(under_prefix "$includedir")
bindir=$(under_prefix "$bindir") pluginsdir=$(under_prefix "$pluginsdir")
dest=$tmp/root
root_lib=$dest$libdir

echo "== meson install --destdir $dest"
"$meson" install -C "$builddir" --destdir "$dest" --quiet

# ---- the two libraries and their soname links -----------------------------------
# libnabla-core: the core (plugins link only this); libnabla: the user library on top.
for lib in libnabla-core libnabla; do
  real=$(find "$root_lib" -maxdepth 1 -type f -name "$lib.so.*" | head -n 1)
  [ -n "$real" ] || { echo "FAIL: no $lib.so.* file in $root_lib" >&2; exit 1; }
  for link in "$lib.so" "$lib.so.$soversion"; do
    if [ -L "$root_lib/$link" ] && [ "$(readlink -f "$root_lib/$link")" = "$(readlink -f "$real")" ]; then
      ok "$link -> $(readlink "$root_lib/$link")"
    else
      bad "$root_lib/$link is not a symlink to $(basename "$real")"
    fi
  done
  if command -v readelf >/dev/null 2>&1; then
    dyn=$(readelf -d "$real")
    soname=$(sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p' <<<"$dyn")
    if [ "$soname" = "$lib.so.$soversion" ]; then ok "SONAME $soname"; else bad "SONAME is '$soname', expected $lib.so.$soversion"; fi
    if grep -F "$builddir" <<<"$dyn" >/dev/null; then bad "installed $lib keeps a build-tree RUNPATH: $(grep -E 'RPATH|RUNPATH' <<<"$dyn")"; fi
  fi
done

# ---- the core stays minimal ---------------------------------------------------------
# No user-library symbol is exported by the core, and it links neither cJSON nor zlib.
core=$(readlink -f "$root_lib/libnabla-core.so.$soversion")
if command -v nm >/dev/null 2>&1; then
  leaked=$(nm -D --defined-only "$core" | awk '{print $3}' |
    grep -E '^nb_(module|linear|conv2d_new|batch_norm2d|sequential|state_dict|safetensors|optimizer|lr_|sched|clip_grad|.*_net_new|resnet)' || true)
  if [ -z "$leaked" ]; then ok "libnabla-core exports no user-library symbol"; else bad "libnabla-core exports: $(tr '\n' ' ' <<<"$leaked")"; fi
fi
if command -v readelf >/dev/null 2>&1; then
  needed=$(readelf -d "$core" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  if grep -Eq 'libcjson|libz\.' <<<"$needed"; then bad "libnabla-core links $needed"; else ok "libnabla-core needs only: $needed"; fi
fi

# ---- headers ---------------------------------------------------------------------
inc=$dest$includedir/nabla
if [ -f "$inc/nabla.h" ]; then
  ok "$includedir/nabla/nabla.h"
  while read -r h; do
    [ -f "$inc/$h" ] || bad "nabla.h includes $h, which is not installed"
  done < <(sed -n -e 's/^#include <nabla\/\(.*\)>.*/\1/p' -e 's/^#include "\(.*\)".*/\1/p' "$inc/nabla.h" "$inc/sdk.h")
else
  bad "no $inc/nabla.h"
fi

# ---- nabla.pc and pluginsdir ------------------------------------------------------------
pcdir=$root_lib/pkgconfig
for pc in nabla nabla-core; do
  [ -f "$pcdir/$pc.pc" ] || { echo "FAIL: no $pc.pc in $pcdir" >&2; exit 1; }
done
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest
pc_plugins=$(pkg-config --variable=pluginsdir nabla)
pc_plugins=${pc_plugins#"$dest"} # pkgconf prefixes variables with the sysroot, pkg-config does not
if [ "$pc_plugins" = "$pluginsdir" ]; then ok "pluginsdir=$pc_plugins"; else bad "pluginsdir is '$pc_plugins', expected $pluginsdir"; fi
installed=$(find "$dest$pluginsdir" -maxdepth 1 -name '*.so' 2>/dev/null | wc -l)
if [ "$installed" -eq "$n_plugins" ]; then ok "$installed plugins installed"; else bad "$installed plugins in $pluginsdir, $n_plugins built"; fi

# ---- tools ------------------------------------------------------------------------------
for tool in inspect gradcheck; do
  if [ -x "$builddir/tools/$tool/nabla-$tool" ]; then
    if [ -x "$dest$bindir/nabla-$tool" ]; then ok "nabla-$tool installed"; else bad "nabla-$tool is built but not installed in $bindir"; fi
  fi
done

# ---- an out-of-tree program --------------------------------------------------------------
read -ra pc_flags <<<"$(pkg-config --cflags --libs nabla)"
cflags=(-std=c11 -Wall -Wextra -Werror)
[ "$sanitize" = none ] || cflags+=("-fsanitize=$sanitize")
echo "== ${cc[*]} ${cflags[*]} consumer.c ${pc_flags[*]}"
"${cc[@]}" "${cflags[@]}" "$consumer_c" -o "$tmp/consumer" "${pc_flags[@]}"
# The installed library must find its plugins by itself: no search path from the test setup.
if env -u NABLA_PLUGIN_PATH -u NABLA_PLUGIN_SYSTEM_PATH LD_LIBRARY_PATH="$root_lib" \
    "$tmp/consumer" "$n_plugins" "$dest$pluginsdir"; then
  ok "consumer built with pkg-config runs against the installed tree"
else
  bad "consumer failed"
fi

# ---- an out-of-tree plugin (README's example), found through NABLA_PLUGIN_PATH --------------
# A plugin links only the core: pkg-config nabla-core.
mkdir -p "$tmp/myplugins"
read -ra sdk_flags <<<"$(pkg-config --cflags --libs nabla-core)"
echo "== ${cc[*]} -shared -fPIC -fvisibility=hidden square_plugin.c -o square.so ${sdk_flags[*]}"
"${cc[@]}" "${cflags[@]}" -shared -fPIC -fvisibility=hidden "$square_c" -o "$tmp/myplugins/square.so" "${sdk_flags[@]}"
if command -v readelf >/dev/null 2>&1; then
  if readelf -d "$tmp/myplugins/square.so" | grep -q '\[libnabla\.so'; then bad "square.so links the user library"; else ok "square.so links only libnabla-core"; fi
fi
if env -u NABLA_PLUGIN_SYSTEM_PATH NABLA_PLUGIN_PATH="$tmp/myplugins" LD_LIBRARY_PATH="$root_lib" \
    "$tmp/consumer" "$((n_plugins + 1))" "$dest$pluginsdir" square; then
  ok "out-of-tree plugin built with pkg-config loads and differentiates"
else
  bad "out-of-tree plugin failed"
fi

[ "$errors" -eq 0 ] || { echo "$errors check(s) failed" >&2; exit 1; }
echo "install test passed"
