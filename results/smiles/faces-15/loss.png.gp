set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = 'results/smiles/faces/loss.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
set ylabel 'cross-entropy'
set title 'results/smiles/faces'
plot 'results/smiles/faces/history.csv' using 1:2 skip 1 with linespoints title 'train', \
     'results/smiles/faces/history.csv' using 1:4 skip 1 with linespoints title 'test'
