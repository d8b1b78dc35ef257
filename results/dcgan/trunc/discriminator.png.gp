set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = 'results/dcgan/trunc/discriminator.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
set ylabel 'mean D output'
set title 'results/dcgan/trunc'
plot 'results/dcgan/trunc/history.csv' using 1:4 skip 1 with linespoints title 'D(x), real', \
     'results/dcgan/trunc/history.csv' using 1:5 skip 1 with linespoints title 'D(G(z)), fake'
