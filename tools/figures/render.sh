#!/bin/sh
# render.sh - draws the figures of README.md from a database the pipeline
# ran on (make figures runs it on the demo's build/demo.db):
#
#   sh tools/figures/render.sh DATABASE OUTDIR
#
# writes OUTDIR/NAME.svg and OUTDIR/NAME.png, and the tab-separated data
# each one plots in OUTDIR/data/NAME.tsv, for:
#   table1      the paper's Table 1: precision, recall, NDCG at top_k per
#               method, error bars the fold spread             (results)
#   at_k        the same at every K of eval_ks                 (results_at_k)
#   activity    Fig. 4: Semi-Pers. precision by registration-day activity
#                                                              (results_by_activity)
#   popularity  Fig. 5: recommendations by popularity rank, overall and in
#               the top countries                              (recommended_popularity)
#   abtest      Fig. 7: lift of each variant over the control, with its
#               confidence interval and p-value                (ab_results)
# abtest is drawn when the database holds an A/B test (sql/abtest.sql):
# the experiment named by FIGURES_EXPERIMENT, or else the first by name
# (otherwise an abtest figure left in OUTDIR is removed).
# The database is opened read-only.  The extension (for ab_results) is
# SEMIPERSO_SO, default ./semiperso of this repository.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -ne 2 ]; then
  echo "usage: sh tools/figures/render.sh DATABASE OUTDIR" >&2
  exit 2
fi
db=$1
out=$2
so=${SEMIPERSO_SO:-$root/semiperso}
gp="$root/tools/figures"

die() { echo "figures: $*" >&2; exit 1; }
[ -f "$db" ] || die "no database $db (make demo builds build/demo.db)"
command -v gnuplot >/dev/null 2>&1 || die "gnuplot is missing: apt-get install gnuplot-nox"
db=$(cd "$(dirname "$db")" && pwd)/$(basename "$db")
mkdir -p "$out/data"
out=$(cd "$out" && pwd)

sql() { # sql SQL...: runs statements on the database, read-only, extension loaded
  LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch -bail -readonly "$db" ".load $so" "$@"
}
quote() { printf %s "$1" | sed "s/'/''/g"; } # for '...' in SQL and gnuplot alike

figures="table1 at_k activity popularity"
has_ab=$(sql "SELECT count(*) FROM sqlite_schema WHERE name = 'ab_results'")
experiment=""
if [ "$has_ab" = 1 ]; then
  experiment=${FIGURES_EXPERIMENT:-$(sql "SELECT min(experiment) FROM ab_impressions")}
fi

# The data files, in one session (the A/B part uses data.sql's method names).
if [ -n "$experiment" ]; then
  figures="$figures abtest"
  (cd "$out/data" && sql ".read $gp/data.sql" \
    "CREATE TEMP TABLE figure_experiment AS SELECT '$(quote "$experiment")' AS experiment" \
    ".read $gp/abtest_data.sql") || exit 1
  title=$(sql "SELECT printf('A/B test \"%s\": lift over the control \"%s\", %g %% confidence intervals',
                             experiment, control, 100 - 100 * alpha)
               FROM ab_experiments WHERE experiment = '$(quote "$experiment")'")
else
  (cd "$out/data" && sql ".read $gp/data.sql") || exit 1
  title=""
  echo "figures: no A/B test impressions in $db (sql/abtest.sql): abtest not drawn" >&2
  rm -f "$out/abtest.svg" "$out/abtest.png" "$out/data/abtest.tsv"  # not another database's
fi

k=$(sql "SELECT max(k) FROM results")
for name in $figures; do
  for format in svg png; do
    gnuplot -e "format='$format'; output='$(quote "$out/$name.$format")';
                datafile='$(quote "$out/data/$name.tsv")'; gpdir='$(quote "$gp")';
                k=$k; abtitle='$(quote "$title")'" "$gp/$name.gp" ||
      die "gnuplot failed on $gp/$name.gp"
  done
  echo "figures: $out/$name.svg, $out/$name.png"
done
