# abtest.gp - the paper's Fig. 7: for each variant of an A/B test but the
# control, the relative lift of its display-to-stream and
# display-to-favorite rates over the control's, with the confidence
# interval as error bar, and the lift and two-sided p-value written beyond
# the interval.
# datafile: abtest.tsv of abtest_data.sql; abtitle names the experiment.
width = 1000; height = 560
load gpdir.'/style.gp'
set title abtitle font ',14'
set key autotitle columnheader
set key top left Left reverse samplen 1.5
set style fill solid 0.85 noborder
set boxwidth 0.34
set xtics scale 0
set ylabel 'lift over the control (%)'
set xzeroaxis lt -1 lw 1
stats datafile using 0 nooutput
set xrange [-0.6:STATS_records - 0.4]
stats datafile using 4 nooutput
high = STATS_max
stats datafile using 8 nooutput
high = STATS_max > high ? STATS_max : high
stats datafile using 3 nooutput
low = STATS_min
stats datafile using 7 nooutput
low = STATS_min < low ? STATS_min : low
low = low < 0 ? low : 0
high = high > 0 ? high : 0
pad = 0.2 * (high - low)
set yrange [low - pad:high + pad]
ptext(lift, p) = sprintf('%+.1f %%', lift)."\n".(p < 0.0001 ? 'p < 0.0001' : sprintf('p = %.4f', p))
# A label beyond the end of the interval, on the side the bar points to.
ylabel_at(y, lo, hi) = y >= 0 ? hi + 0.5 * pad : lo - 0.5 * pad
plot datafile using ($0 - 0.18):2:xtic(1) with boxes lc rgb palette[1], \
     ''       using ($0 + 0.18):6 with boxes lc rgb palette[2], \
     ''       using ($0 - 0.18):3:(0):($4 - $3) with vectors heads size screen 0.008, 90 \
              lc rgb '#333333' notitle, \
     ''       using ($0 + 0.18):7:(0):($8 - $7) with vectors heads size screen 0.008, 90 \
              lc rgb '#333333' notitle, \
     ''       using ($0 - 0.18):(ylabel_at($2, $3, $4)):(ptext($2, $5)) with labels font ',10' \
              notitle, \
     ''       using ($0 + 0.18):(ylabel_at($6, $7, $8)):(ptext($6, $9)) with labels font ',10' \
              notitle
