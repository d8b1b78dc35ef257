set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = 'results/smiles/noweight/confusion.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
unset grid
set datafile separator whitespace
set title 'results/smiles/noweight/checkpoint.h5: accuracy 0.9367, balanced 0.9261'
set xlabel 'predicted'
set ylabel 'true'
set xrange [-0.5:1.5]
set yrange [1.5:-0.5]
set xtics 1
set ytics 1
set cbrange [0:1]
set palette defined (0 'white', 1 '#08306b')
set size square
set xtics rotate by 45 right ('nonsmile' 0, 'smile' 1)
set ytics ('nonsmile' 0, 'smile' 1)
$counts << EOD
0 0 1620 0.95015
1 0 85 0.04985
0 1 65 0.09789
1 1 599 0.90211
EOD
plot $counts using 1:2:4 with image notitle, \
     $counts using 1:2:($4 > 0.5 ? sprintf('%g', $3) : '') with labels tc rgb 'white' font 'sans,9' notitle, \
     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%g', $3)) with labels tc rgb 'black' font 'sans,9' notitle
