set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = '/tmp/s40/loss.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
set ylabel 'cross-entropy'
set title '/tmp/s40'
plot '/tmp/s40/history.csv' using 1:2 skip 1 with linespoints title 'train', \
     '/tmp/s40/history.csv' using 1:4 skip 1 with linespoints title 'test'
