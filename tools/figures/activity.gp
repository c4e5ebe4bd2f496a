# activity.gp - the paper's Fig. 4: precision@top_k of Semi-Pers. by
# registration-day activity, one panel per activity (wider the more bins
# it has): bars the mean over the bin's test users (their number under the
# bin), error bars the fold spread, the dashed line the mean over all test
# users.
# datafile: activity.tsv of data.sql (one block per activity, each opening
# with its title line).
width = 1500; height = 560
load gpdir.'/style.gp'
stats datafile using 3 nooutput
panels = STATS_blocks
stats datafile using ($3 + $4) nooutput
top = STATS_max * 1.12
stats datafile using 5 nooutput
overall = STATS_max
array bins[panels]
total = 0
do for [i = 1:panels] {
  stats datafile index i - 1 using 3 nooutput
  bins[i] = STATS_records
  total = total + (bins[i] > 3 ? bins[i] : 3) + 1.5
}
set multiplot title \
    sprintf('Precision@%d of Semi-Pers. by registration-day activity (dashed: all test users, %.1f %%)', \
            k, overall) font ',15'
set yrange [0:top]
set style fill solid 0.85 noborder
set boxwidth 0.7
set errorbars lc rgb '#333333'
set xtics scale 0 font ',11'
set bmargin 4
set tmargin 3
set lmargin 7
set rmargin 2
unset key
set arrow 1 from graph 0, first overall to graph 1, first overall nohead dt 2 lw 1.5 \
    lc rgb '#555555' front
left = 0
do for [i = 1:panels] {
  # The block's first line is its title (columnheader consumes it below).
  stats datafile index i - 1 every ::0::0 using (panel = strcol(1), 0) nooutput
  set title panel font ',13'
  set origin left, 0
  panel_width = ((bins[i] > 3 ? bins[i] : 3) + 1.5) / total
  set size panel_width, 0.95
  left = left + panel_width
  set xrange [-0.6:bins[i] - 0.4]
  set ylabel (i == 1 ? 'precision (%)' : '')
  plot datafile index i - 1 using 0:3:4:xtic(strcol(1)."\nn=".strcol(2)) with boxerrorbars \
       lc rgb palette[5] title columnheader(1)
}
unset multiplot
