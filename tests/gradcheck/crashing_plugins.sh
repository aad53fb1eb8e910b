#!/bin/sh
# nabla-gradcheck with plugins that crash or call exit() in their init (issue 16): they
# used to kill it (exit 139) without naming the file. Now the scan names them, the other
# plugins are checked, and a --plugin that crashes is an error naming why.
# Usage: crashing_plugins.sh EXPECT_SH GRADCHECK CRASH.so EXIT.so
set -u
expect=$1 gc=$2
crash=$(readlink -f "$3") exit_so=$(readlink -f "$4") # meson passes them relative
dir=$(mktemp -d "${TMPDIR:-/tmp}/nabla-gc-scan.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
ln -s "$crash" "$dir/a_crash.so" && ln -s "$exit_so" "$dir/b_exit.so" || exit 1
NABLA_PLUGIN_PATH="$NABLA_PLUGIN_PATH:$dir"
export NABLA_PLUGIN_PATH
fail=0
# discovered: named as load failures (exit 1), the built-in op still checked
"$expect" 1 \
  "plugin .*fx_crash.so failed to load: the plugin crashed while loading: killed by SIGSEGV" \
  "plugin .*fx_exit.so failed to load: plugin called exit\(3\) during loading" \
  '^relu .* pass$' \
  -- "$gc" --op relu || fail=1
# given with --plugin: a loading error (exit 2) saying why
"$expect" 2 "cannot load plugin .*a_crash.so: the plugin crashed while loading: killed by SIGSEGV" \
  -- "$gc" --plugin "$dir/a_crash.so" || fail=1
"$expect" 2 "cannot load plugin .*b_exit.so: plugin called exit\(3\) during loading" \
  -- "$gc" --plugin "$dir/b_exit.so" || fail=1
exit $fail
