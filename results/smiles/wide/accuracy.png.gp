set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = 'results/smiles/wide/accuracy.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
set ylabel 'accuracy'
set title 'results/smiles/wide'
plot 'results/smiles/wide/history.csv' using 1:3 skip 1 with linespoints title 'train', \
     'results/smiles/wide/history.csv' using 1:5 skip 1 with linespoints title 'test'
