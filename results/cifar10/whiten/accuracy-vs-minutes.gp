# Test accuracy against wall minutes: results/cifar10/whiten (the airbench-shaped
# net with the whitening stem, 10 epochs), results/cifar10/resnet (preset resnet,
# 16 epochs) and results/cifar10/cifar (preset cifar, 22 epochs), np=2 on 2-core VMs.
# Minutes = the sum of the epochs' training seconds (history.csv column 6) plus
# each epoch's evaluation (whiten: 17.9 s = 178.96 s over 10 epochs, the time table in train.log;
# resnet: 10.8 s; cifar: 5.7 s, see results/cifar10/resnet/accuracy-vs-minutes.gp).
# The dashed point is the whiten run's eval --tta translate at the end of its clock.
# gnuplot results/cifar10/whiten/accuracy-vs-minutes.gp
set terminal pngcairo size 900,540
set output 'results/cifar10/whiten/accuracy-vs-minutes.png'
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
plot 'results/cifar10/whiten/history.csv' every ::1 using (s0 = s0 + $6 + 17.9, s0 / 60):5 \
         with linespoints lw 2 title 'whiten stem (airbench-shaped), 10 epochs: 87.09%', \
     '-' using 1:2 with points pt 7 ps 1.5 title 'the same, eval --tta translate: 88.20% (52.3 min)', \
     'results/cifar10/resnet/history.csv' every ::1 using (s1 = s1 + $6 + 10.8, s1 / 60):5 \
         with linespoints title 'resnet (W=24), 16 epochs: 86.06%', \
     'results/cifar10/cifar/history.csv' every ::1 using (s2 = s2 + $6 + 5.7, s2 / 60):5 \
         with linespoints title 'cifar (VGG-style), 22 epochs: 85.40%'
52.32,0.8820
e
