set terminal pngcairo size 900,540 font 'sans,11'
set output 'results/mnist/optimizers/adadelta/accuracy.png'
set datafile separator ','
set grid
set key right center
set xlabel 'epoch'
set ylabel 'accuracy'
set title 'results/mnist/optimizers/adadelta'
plot 'results/mnist/optimizers/adadelta/history.csv' using 1:3 skip 1 with linespoints title 'train', \
     'results/mnist/optimizers/adadelta/history.csv' using 1:5 skip 1 with linespoints title 'test'
