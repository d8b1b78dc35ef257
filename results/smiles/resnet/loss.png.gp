set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = '/tmp/sres/loss.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
set ylabel 'cross-entropy'
set title '/tmp/sres'
plot '/tmp/sres/history.csv' using 1:2 skip 1 with linespoints title 'train', \
     '/tmp/sres/history.csv' using 1:4 skip 1 with linespoints title 'test'
