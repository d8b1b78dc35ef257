set terminal pngcairo size 900,540 font 'sans,11'
set output 'results/mnist/overfit-1000/accuracy.png'
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
set ylabel 'accuracy'
set title 'results/mnist/overfit-1000'
plot 'results/mnist/overfit-1000/history.csv' using 1:3 skip 1 with linespoints title 'train', \
     'results/mnist/overfit-1000/history.csv' using 1:5 skip 1 with linespoints title 'test'
