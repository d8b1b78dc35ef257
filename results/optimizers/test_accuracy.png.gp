set terminal pngcairo size 900,540 font 'sans,11'
set output 'results/optimizers/test_accuracy.png'
set datafile separator ','
set grid
set key right center
set xlabel 'epoch'
set ylabel 'test_acc'
set key right bottom
plot 'results/optimizers/sgd/history.csv' using 1:5 skip 1 with linespoints title 'sgd', \
     'results/optimizers/momentum/history.csv' using 1:5 skip 1 with linespoints title 'momentum', \
     'results/optimizers/adagrad/history.csv' using 1:5 skip 1 with linespoints title 'adagrad', \
     'results/optimizers/rmsprop/history.csv' using 1:5 skip 1 with linespoints title 'rmsprop', \
     'results/optimizers/adadelta/history.csv' using 1:5 skip 1 with linespoints title 'adadelta', \
     'results/optimizers/adam/history.csv' using 1:5 skip 1 with linespoints title 'adam'
