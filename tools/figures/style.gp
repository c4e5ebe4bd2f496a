# style.gp - what every figure shares, loaded by each NAME.gp after it sets
# width and height: the terminal (format 'svg' or 'png', file `output`),
# fonts, a colour-blind-safe palette (Okabe-Ito), light grid, no top/right
# border.  Variables set by render.sh: format, output, datafile, gpdir,
# k (the top_k of results), abtitle.
if (format eq 'svg') {
  set terminal svg size width, height dynamic font 'DejaVu Sans,13' \
      noenhanced background rgb 'white'
} else {
  set terminal pngcairo size width, height font 'DejaVu Sans,13' \
      noenhanced background rgb 'white'
}
set output output
set datafile separator "\t"
set datafile missing 'NaN'
set border 3 lw 1.2
set tics nomirror out
set style line 100 lc rgb '#dddddd' lw 1 dt 1
set grid ytics back ls 100
set title font ',15'
# Okabe-Ito: blue, orange, bluish green, reddish purple, sky blue,
# vermillion, yellow, black.
array palette[8] = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', \
                    '#D55E00', '#F0E442', '#000000']
# A label of up to three words on two lines (tick labels of long names).
wrap(s) = words(s) < 2 ? s : words(s) == 2 ? word(s, 1)."\n".word(s, 2) : \
          word(s, 1)." ".word(s, 2)."\n".substr(s, strstrt(s, word(s, 3)), strlen(s))
