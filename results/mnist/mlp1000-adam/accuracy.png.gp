set terminal pngcairo size 900,540 font 'sans,11'
set output 'results/mnist/mlp1000-adam/accuracy.png'
set datafile separator ','
set grid
set key right center
set xlabel 'epoch'
set ylabel 'accuracy'
set title 'results/mnist/mlp1000-adam'
plot 'results/mnist/mlp1000-adam/history.csv' using 1:3 skip 1 with linespoints title 'train', \
     'results/mnist/mlp1000-adam/history.csv' using 1:5 skip 1 with linespoints title 'test'
