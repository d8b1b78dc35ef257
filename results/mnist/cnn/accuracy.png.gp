set terminal pngcairo size 900,540 font 'sans,11'
set output 'results/mnist/cnn/accuracy.png'
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
set ylabel 'accuracy'
set title 'results/mnist/cnn'
plot 'results/mnist/cnn/history.csv' using 1:3 skip 1 with linespoints title 'train', \
     'results/mnist/cnn/history.csv' using 1:5 skip 1 with linespoints title 'test'
