set terminal pngcairo size 900,540 font 'sans,11'
set output 'results/mnist/optimizers/test_accuracy.png'
set datafile separator ','
set grid
set key right center
set xlabel 'epoch'
set ylabel 'test_acc'
set key right bottom
plot 'results/mnist/optimizers/sgd/history.csv' using 1:5 skip 1 with linespoints title 'sgd', \
     'results/mnist/optimizers/momentum/history.csv' using 1:5 skip 1 with linespoints title 'momentum', \
     'results/mnist/optimizers/adagrad/history.csv' using 1:5 skip 1 with linespoints title 'adagrad', \
     'results/mnist/optimizers/rmsprop/history.csv' using 1:5 skip 1 with linespoints title 'rmsprop', \
     'results/mnist/optimizers/adadelta/history.csv' using 1:5 skip 1 with linespoints title 'adadelta', \
     'results/mnist/optimizers/adam/history.csv' using 1:5 skip 1 with linespoints title 'adam'
