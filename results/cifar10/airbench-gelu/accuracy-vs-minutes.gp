# Test accuracy against wall minutes: results/cifar10/airbench-gelu
# (airbench94's whole recipe: GELU, whiten bias frozen after 3 epochs,
# reflect-filled crops, the 0.2 -> 1 -> 0.07 triangle) against
# results/cifar10/airbench (ReLU, zero-filled crops, 0 -> 1 -> 0), 10 epochs
# each, and results/cifar10/airbench-11 (the first with 11 epochs; eval 20.2 s an
# epoch), np=2 on the 2-core VM (AMD EPYC).
# Minutes = the sum of the epochs' training seconds (history.csv column 6)
# plus each epoch's evaluation (18.8 s for the gelu run, 19.8 s for the other:
# the eval column of the time table in train.log, over 10 epochs).
# The points are each run's eval --tta translate at the end of its clock
# (wall.txt: from the start of train, loading and fitting included).
# gnuplot results/cifar10/airbench-gelu/accuracy-vs-minutes.gp
set terminal pngcairo size 900,540
set output 'results/cifar10/airbench-gelu/accuracy-vs-minutes.png'
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
plot 'results/cifar10/airbench-gelu/history.csv' every ::1 using (s0 = s0 + $6 + 18.8, s0 / 60):5 \
         with linespoints lw 2 title 'airbench94 whole recipe (GELU, reflect, ...), 10 epochs: 90.13%', \
     'results/cifar10/airbench/history.csv' every ::1 using (s1 = s1 + $6 + 19.8, s1 / 60):5 \
         with linespoints title 'ReLU, zero-filled crops, triangle to 0: 89.21%', \
     'results/cifar10/airbench-11/history.csv' every ::1 using (s2 = s2 + $6 + 20.2, s2 / 60):5 \
         with linespoints lw 2 title 'the same, 11 epochs: 90.07%', \
     '-' using 1:2 with points pt 7 ps 1.5 title 'eval --tta translate, at the end of each clock'
51.52,0.9091
58.53,0.9108
50.90,0.9008
e
