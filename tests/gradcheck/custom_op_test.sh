#!/usr/bin/env bash
# The custom-op example as a user builds it: install nabla into a temporary DESTDIR,
# build examples/custom-op against that tree only (pkg-config through PKG_CONFIG_PATH
# and PKG_CONFIG_SYSROOT_DIR), load the plugin through NABLA_PLUGIN_PATH and check it
# with the installed nabla-gradcheck --plugin; then install it into nabla's pluginsdir
# and check that the installed tree finds it by itself. Run by `meson test` (suite
# gradcheck); tests/gradcheck/meson.build passes the build's settings as CO_* variables.
set -euo pipefail

meson=$CO_MESON builddir=$CO_BUILDDIR prefix=$CO_PREFIX libdir=$CO_LIBDIR bindir=$CO_BINDIR
pluginsdir=$CO_PLUGINSDIR sanitize=$CO_SANITIZE example=$CO_EXAMPLE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nabla-custom-op.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
under_prefix() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$prefix" "$1" ;; esac; }
libdir=$(under_prefix "$libdir") bindir=$(under_prefix "$bindir") pluginsdir=$(under_prefix "$pluginsdir")
dest=$tmp/root

echo "== meson install --destdir $dest"
"$meson" install -C "$builddir" --destdir "$dest" --quiet
gradcheck=$dest$bindir/nabla-gradcheck
[ -x "$gradcheck" ] || { echo "FAIL: $gradcheck not installed" >&2; exit 1; }

# Only the temporary tree: no build-tree paths, no system nabla.
export PKG_CONFIG_PATH=$dest$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
export LD_LIBRARY_PATH=$dest$libdir
unset NABLA_PLUGIN_PATH NABLA_PLUGIN_SYSTEM_PATH

echo "== building $example against the installed nabla"
setup_args=(--buildtype=debugoptimized)
[ "$sanitize" = none ] || setup_args+=("-Db_sanitize=$sanitize")
"$meson" setup "${setup_args[@]}" "$tmp/build" "$example" >"$tmp/setup.log" 2>&1 ||
  { cat "$tmp/setup.log"; echo "FAIL: meson setup of the example" >&2; exit 1; }
grep -F "Run-time dependency nabla-core found: YES" "$tmp/setup.log"
"$meson" compile -C "$tmp/build"
so=$tmp/build/softplus.so
[ -f "$so" ] || { echo "FAIL: $so not built" >&2; exit 1; }

check() { # check DESCRIPTION COMMAND...: must pass and show a passing my_softplus row
  local out status=0
  echo "== $1"
  shift
  out=$("$@" 2>&1) || status=$?
  printf '%s\n' "$out"
  [ "$status" -eq 0 ] || { echo "FAIL: exit status $status" >&2; exit 1; }
  grep -qE '^my_softplus +softplus .* pass$' <<<"$out" || { echo "FAIL: no passing my_softplus row" >&2; exit 1; }
}

# Found through NABLA_PLUGIN_PATH (no system plugins), then given explicitly.
check "NABLA_PLUGIN_PATH=build: nabla-gradcheck --op my_softplus" \
  env NABLA_PLUGIN_PATH="$tmp/build" NABLA_PLUGIN_SYSTEM_PATH= "$gradcheck" --op my_softplus
check "nabla-gradcheck --plugin build/softplus.so" \
  env NABLA_PLUGIN_PATH="$tmp/build" "$gradcheck" --plugin "$so"

# Installed into nabla's pluginsdir (from pkg-config): the installed tree finds it.
"$meson" install -C "$tmp/build" --quiet
[ -f "$dest$pluginsdir/softplus.so" ] || { echo "FAIL: not installed into $dest$pluginsdir" >&2; exit 1; }
check "installed: nabla-gradcheck --plugin \$pluginsdir/softplus.so" "$gradcheck" --plugin "$dest$pluginsdir/softplus.so"
check "installed: nabla-gradcheck --op my_softplus (default plugin directory)" "$gradcheck" --op my_softplus
echo "custom-op test passed"
