set terminal pngcairo size 900,540 font 'sans,11'
set output 'results/cifar10/cifar/confusion.png'
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
unset grid
set datafile separator whitespace
set title 'results/cifar10/cifar/checkpoint.h5: accuracy 0.8540'
set xlabel 'predicted'
set ylabel 'true'
set xrange [-0.5:9.5]
set yrange [9.5:-0.5]
set xtics 1
set ytics 1
set cbrange [0:1]
set palette defined (0 'white', 1 '#08306b')
set size square
set xtics rotate by 45 right ('airplane' 0, 'automobile' 1, 'bird' 2, 'cat' 3, 'deer' 4, 'dog' 5, 'frog' 6, 'horse' 7, 'ship' 8, 'truck' 9)
set ytics ('airplane' 0, 'automobile' 1, 'bird' 2, 'cat' 3, 'deer' 4, 'dog' 5, 'frog' 6, 'horse' 7, 'ship' 8, 'truck' 9)
$counts << EOD
0 0 874 0.87400
1 0 9 0.00900
2 0 28 0.02800
3 0 8 0.00800
4 0 10 0.01000
5 0 1 0.00100
6 0 5 0.00500
7 0 6 0.00600
8 0 41 0.04100
9 0 18 0.01800
0 1 8 0.00800
1 1 936 0.93600
2 1 2 0.00200
3 1 2 0.00200
4 1 1 0.00100
5 1 2 0.00200
6 1 4 0.00400
7 1 1 0.00100
8 1 8 0.00800
9 1 36 0.03600
0 2 32 0.03200
1 2 0 0.00000
2 2 789 0.78900
3 2 31 0.03100
4 2 59 0.05900
5 2 27 0.02700
6 2 37 0.03700
7 2 12 0.01200
8 2 7 0.00700
9 2 6 0.00600
0 3 13 0.01300
1 3 1 0.00100
2 3 35 0.03500
3 3 695 0.69500
4 3 37 0.03700
5 3 128 0.12800
6 3 50 0.05000
7 3 23 0.02300
8 3 8 0.00800
9 3 10 0.01000
0 4 7 0.00700
1 4 2 0.00200
2 4 31 0.03100
3 4 34 0.03400
4 4 850 0.85000
5 4 19 0.01900
6 4 29 0.02900
7 4 23 0.02300
8 4 4 0.00400
9 4 1 0.00100
0 5 6 0.00600
1 5 1 0.00100
2 5 17 0.01700
3 5 124 0.12400
4 5 31 0.03100
5 5 780 0.78000
6 5 13 0.01300
7 5 26 0.02600
8 5 1 0.00100
9 5 1 0.00100
0 6 6 0.00600
1 6 2 0.00200
2 6 33 0.03300
3 6 31 0.03100
4 6 15 0.01500
5 6 14 0.01400
6 6 896 0.89600
7 6 1 0.00100
8 6 1 0.00100
9 6 1 0.00100
0 7 9 0.00900
1 7 0 0.00000
2 7 14 0.01400
3 7 25 0.02500
4 7 31 0.03100
5 7 23 0.02300
6 7 2 0.00200
7 7 889 0.88900
8 7 2 0.00200
9 7 5 0.00500
0 8 39 0.03900
1 8 9 0.00900
2 8 7 0.00700
3 8 5 0.00500
4 8 2 0.00200
5 8 1 0.00100
6 8 4 0.00400
7 8 1 0.00100
8 8 919 0.91900
9 8 13 0.01300
0 9 12 0.01200
1 9 43 0.04300
2 9 4 0.00400
3 9 9 0.00900
4 9 1 0.00100
5 9 0 0.00000
6 9 1 0.00100
7 9 1 0.00100
8 9 17 0.01700
9 9 912 0.91200
EOD
plot $counts using 1:2:4 with image notitle, \
     $counts using 1:2:($4 > 0.5 ? sprintf('%g', $3) : '') with labels tc rgb 'white' font 'sans,9' notitle, \
     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%g', $3)) with labels tc rgb 'black' font 'sans,9' notitle
