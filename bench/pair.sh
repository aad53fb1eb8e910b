# bench/pair.sh — sourced by bench/<area>/run.sh: the set-up and side-by-side loop they share.
#
# bench_env BUILD EXE THREADS [PYMODULES]
#   Fails with a message unless EXE is built and /usr/bin/python3 imports PYMODULES
#   (default torch); exports OMP_NUM_THREADS=THREADS, passive OpenMP waiting for both
#   sides (on a shared, oversubscribed machine actively spinning worker threads stall
#   each other, tens of ms per parallel region) and a plugin path of BUILD's plugins only.
#
# bench_pair CASES EXE PYSCRIPT THREADS MIN_SECONDS ROUNDS OUTDIR
#   Runs every line of CASES through EXE (nabla) and then PYSCRIPT (PyTorch, with
#   /usr/bin/python3), case by case, for ROUNDS alternating rounds, so a change in the
#   machine's load hits both sides alike. Each program prints "NAME MEDIAN_MS MIN_MS FIGURE"
#   per case. Writes OUTDIR/nb.best and OUTDIR/pt.best: "NAME MEDIAN_MS FIGURE" with the
#   best (lowest) median of the rounds for each case and side, and that run's FIGURE.
bench_env() {
  [ -x "$2" ] || { echo "build first: meson compile -C $1 ($2 missing)" >&2; exit 1; }
  /usr/bin/python3 -c "import ${4:-torch}" 2>/dev/null ||
    { echo "needs Debian's python3 with ${4:-torch} (apt-get install python3-torch python3-torchvision)" >&2; exit 1; }
  export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}" OMP_NUM_THREADS="$3"
  NABLA_PLUGIN_PATH=$(find "$1/ops" "$1/plugins" -name '*.so' -exec dirname {} \; 2>/dev/null | sort -u | paste -sd: -)
  export NABLA_PLUGIN_PATH NABLA_PLUGIN_SYSTEM_PATH=
}

bench_pair() {
  _cases=$1 _exe=$2 _py=$3 _threads=$4 _min_s=$5 _rounds=$6 _out=$7
  : > "$_out/nb"
  : > "$_out/pt"
  _r=0
  while [ "$_r" -lt "$_rounds" ]; do
    while read -r _line; do
      printf '%s\n' "$_line" > "$_out/one"
      "$_exe" "$_out/one" "$_threads" "$_min_s" >> "$_out/nb"
      /usr/bin/python3 "$_py" "$_out/one" "$_threads" "$_min_s" >> "$_out/pt"
    done < "$_cases"
    _r=$((_r + 1))
  done
  for _side in nb pt; do
    awk '!($1 in m) || $2 < m[$1] {m[$1] = $2; g[$1] = $4} END {for (k in m) print k, m[k], g[k]}' \
      "$_out/$_side" > "$_out/$_side.best"
  done
}
