# bench/pair.sh — sourced by bench/<area>/run.sh: the side-by-side loop they share.
#
# bench_pair CASES EXE PYSCRIPT THREADS MIN_SECONDS ROUNDS OUTDIR
#   Runs every line of CASES through EXE (nabla) and then PYSCRIPT (PyTorch, with
#   /usr/bin/python3), case by case, for ROUNDS alternating rounds, so a change in the
#   machine's load hits both sides alike. Each program prints "NAME MEDIAN_MS MIN_MS FIGURE"
#   per case. Writes OUTDIR/nb.best and OUTDIR/pt.best: "NAME MEDIAN_MS FIGURE" with the
#   best (lowest) median of the rounds for each case and side, and that run's FIGURE.
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
