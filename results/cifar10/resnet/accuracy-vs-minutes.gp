# Test accuracy against wall minutes: results/cifar10/resnet (preset resnet, 16 epochs) and
# results/cifar10/cifar (preset cifar, 22 epochs), np=2 on this 2-core VM. Minutes = the sum of the
# epochs' training seconds (history.csv column 6) plus the evaluation: 10.8 s an epoch for the
# resnet (172.35 s over 16 epochs, its --profile line in train.log); the cifar run's log has no
# profile, so its 2.1 minutes of loading and evaluation (32 min 29 s wall - 30.4 min training,
# README) are spread evenly over its 22 epochs (5.7 s an epoch).
# gnuplot results/cifar10/resnet/accuracy-vs-minutes.gp
set terminal pngcairo size 900,540
set output 'results/cifar10/resnet/accuracy-vs-minutes.png'
set datafile separator ','
set key bottom right
set grid
set xlabel 'wall minutes (training + per-epoch evaluation)'
set ylabel 'test accuracy'
set yrange [0.4:0.95]
set arrow from 0,0.91 to 60,0.91 nohead dashtype 2
set label 'target 91% in 60 min' at 2,0.92
s1 = 0; s2 = 0
plot 'results/cifar10/resnet/history.csv' every ::1 using (s1 = s1 + $6 + 10.8, s1 / 60):5 \
         with linespoints title 'resnet (W=24), 16 epochs: 86.06%', \
     'results/cifar10/cifar/history.csv' every ::1 using (s2 = s2 + $6 + 5.7, s2 / 60):5 \
         with linespoints title 'cifar (VGG-style), 22 epochs: 85.40%'
