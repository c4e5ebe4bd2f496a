# table1.gp - the paper's Table 1 as grouped bars: for each method its
# precision, recall and NDCG at top_k (%), error bars the fold spread.
# datafile: table1.tsv of data.sql.
width = 1100; height = 560
load gpdir.'/style.gp'
set title 'Offline evaluation on the test users (mean over users, error bars: sd of 10 fold means)'
set style data histogram
set style histogram errorbars gap 1.6 lw 1.3
set style fill solid 0.85 noborder
set errorbars lc rgb '#333333'
set boxwidth 0.9
set ylabel 'score (%)'
set yrange [0:*]
set key top left Left reverse samplen 1.5
set xtics scale 0
set bmargin 4.5
stats datafile using 2 nooutput
set xrange [-0.6:STATS_records - 0.4]
plot datafile using 2:3:xtic(wrap(strcol(1))) title columnheader(2) lc rgb palette[1], \
     ''       using 4:5 title columnheader(4) lc rgb palette[2], \
     ''       using 6:7 title columnheader(6) lc rgb palette[3]
