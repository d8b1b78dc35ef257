set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = 'results/dcgan/ttur/loss.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
set ylabel 'binary cross-entropy'
set title 'results/dcgan/ttur'
plot 'results/dcgan/ttur/history.csv' using 1:2 skip 1 with linespoints title 'discriminator', \
     'results/dcgan/ttur/history.csv' using 1:3 skip 1 with linespoints title 'generator'
