set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = '/tmp/sres20/confusion.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
unset grid
set datafile separator whitespace
set title '/tmp/sres20/checkpoint.h5: accuracy 0.9413, balanced 0.9280'
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
0 0 1634 0.95836
1 0 71 0.04164
0 1 68 0.10241
1 1 596 0.89759
EOD
plot $counts using 1:2:4 with image notitle, \
     $counts using 1:2:($4 > 0.5 ? sprintf('%g', $3) : '') with labels tc rgb 'white' font 'sans,9' notitle, \
     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%g', $3)) with labels tc rgb 'black' font 'sans,9' notitle
