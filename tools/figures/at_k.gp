# at_k.gp - precision, recall and NDCG at every K of eval_ks (the paper:
# "consistent model rankings for @25 and @100"), one panel per metric,
# one line per method, error bars the fold spread.
# datafile: at_k.tsv of data.sql (one block per method).
width = 1300; height = 520
load gpdir.'/style.gp'
stats datafile using 1 nooutput
set multiplot layout 1, 3 title 'The metrics at several K (test users; error bars: sd of 10 fold means)' \
    font ',15'
set logscale x 2
set xlabel 'K (length of the list scored)'
set xrange [STATS_min / 1.25:STATS_max * 1.25]
set yrange [0:*]
set key top left Left reverse font ',11' samplen 2
array metric[3] = ['Precision@K (%)', 'Recall@K (%)', 'NDCG@K (%)']
do for [m = 1:3] {
  set title metric[m] font ',13'
  if (m == 2) { set key } else { unset key }  # recall's top left is empty
  plot for [i = 0:*] datafile index i \
       using 1:(column(2 * m)):(column(2 * m + 1)):xtic(1) \
       with yerrorlines lw 2 pt 7 ps 0.8 lc rgb palette[(i % 8) + 1] title columnheader(1)
}
unset multiplot
