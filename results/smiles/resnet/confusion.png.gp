set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = '/tmp/sres/confusion.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
unset grid
set datafile separator whitespace
set title '/tmp/sres/checkpoint.h5: accuracy 0.9384, balanced 0.9255'
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
0 0 1628 0.95484
1 0 77 0.04516
0 1 69 0.10392
1 1 595 0.89608
EOD
plot $counts using 1:2:4 with image notitle, \
     $counts using 1:2:($4 > 0.5 ? sprintf('%g', $3) : '') with labels tc rgb 'white' font 'sans,9' notitle, \
     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%g', $3)) with labels tc rgb 'black' font 'sans,9' notitle
