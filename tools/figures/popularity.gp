# popularity.gp - the paper's Fig. 5: where the top_k recommendations of
# Popularity, Semi-Pers. and Full-Pers. fall in the catalogue's popularity
# ranking (share of each method's recommendations per rank bin), over all
# test users and in the countries with most test users, one panel each.
# datafile: popularity.tsv of data.sql (one block per scope, each opening
# with its title line).
width = 1500; height = 820
load gpdir.'/style.gp'
stats datafile using 2 nooutput
panels = STATS_blocks
columns = panels < 3 ? panels : 3
rows = (panels + columns - 1) / columns
set multiplot layout rows, columns title \
    sprintf('Recommended tracks (top %d of each test user) by popularity rank in the catalogue (0-1k: the 1000 most listened)', k) \
    font ',15'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.9 noborder
set boxwidth 1
set yrange [0:100]
set ytics 20
set xtics scale 0 font ',10' rotate by 40 right
set key top right font ',11' samplen 1.5
do for [i = 0:panels - 1] {
  # The block's first line is its title; autotitle columnheader makes the
  # plot skip it (the explicit titles below win).
  set key noautotitle
  stats datafile index i every ::0::0 using (panel = strcol(1), 0) nooutput
  set title panel font ',13'
  stats datafile index i using 2 nooutput
  set xrange [-0.6:STATS_records - 0.4]
  set ylabel (i % columns == 0 ? 'share of recommendations (%)' : '')
  set xlabel (i >= (rows - 1) * columns ? 'popularity rank' : '')
  set key autotitle columnheader
  if (i > 0) { unset key }  # the legend once; the header is still skipped
  plot datafile index i using 2:xtic(1) title 'Popularity' lc rgb palette[1], \
       '' index i using 3 title 'Semi-Pers.' lc rgb palette[5], \
       '' index i using 4 title 'Full-Pers.' lc rgb palette[4]
}
unset multiplot
