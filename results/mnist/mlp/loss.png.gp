set terminal pngcairo size 900,540 font 'sans,11'
set output 'results/mnist/mlp/loss.png'
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
set ylabel 'cross-entropy'
set title 'results/mnist/mlp'
plot 'results/mnist/mlp/history.csv' using 1:2 skip 1 with linespoints title 'train', \
     'results/mnist/mlp/history.csv' using 1:4 skip 1 with linespoints title 'test'
