set terminal pngcairo size 900,540 font 'sans,11'
set output 'results/optimizers/rmsprop/loss.png'
set datafile separator ','
set grid
set key right center
set xlabel 'epoch'
set ylabel 'cross-entropy'
set title 'results/optimizers/rmsprop'
plot 'results/optimizers/rmsprop/history.csv' using 1:2 skip 1 with linespoints title 'train', \
     'results/optimizers/rmsprop/history.csv' using 1:4 skip 1 with linespoints title 'test'
