# Test accuracy against wall minutes: results/cifar10/airbench (airbench's
# recipe and init), results/cifar10/airbench-he (the same with He-initialised
# convolutions) and results/cifar10/whiten (the same net and stem with the
# earlier recipe), 10 epochs each, np=2 on the 2-core VM (AMD EPYC).
# Minutes = the sum of the epochs' training seconds (history.csv column 6)
# plus each epoch's evaluation (19.8 s for results/cifar10/airbench, 21.0 s for
# the -he run, 17.9 s for the whiten run: the eval column of the time table in train.log, over 10 epochs).
# The points are each run's eval --tta translate at the end of its clock
# (wall.txt: from the start of train, loading and fitting included).
# gnuplot results/cifar10/airbench/accuracy-vs-minutes.gp
set terminal pngcairo size 900,540
set output 'results/cifar10/airbench/accuracy-vs-minutes.png'
set datafile separator ','
set key bottom right
set grid
set xlabel 'wall minutes (training + per-epoch evaluation)'
set ylabel 'test accuracy'
set yrange [0.4:0.95]
set xrange [0:62]
set arrow from 0,0.91 to 60,0.91 nohead dashtype 2
set label 'target 91% in 60 min' at 2,0.92
s0 = 0; s1 = 0; s2 = 0
plot 'results/cifar10/airbench/history.csv' every ::1 using (s0 = s0 + $6 + 19.8, s0 / 60):5 \
         with linespoints lw 2 title 'airbench recipe and init, 10 epochs: 89.21%', \
     'results/cifar10/airbench-he/history.csv' every ::1 using (s1 = s1 + $6 + 21.0, s1 / 60):5 \
         with linespoints title 'the same, He init: 89.03%', \
     'results/cifar10/whiten/history.csv' every ::1 using (s2 = s2 + $6 + 17.9, s2 / 60):5 \
         with linespoints title 'whiten stem, the earlier recipe: 87.09%', \
     '-' using 1:2 with points pt 7 ps 1.5 title 'eval --tta translate, at the end of each clock'
50.90,0.9008
53.43,0.9008
52.32,0.8820
e
