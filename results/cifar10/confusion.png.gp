set terminal pngcairo size 900,540 font 'sans,11'
set output 'results/cifar10/confusion.png'
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
unset grid
set datafile separator whitespace
set title 'results/cifar10/checkpoint.h5: accuracy 0.8562'
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
0 0 881 0.88100
1 0 9 0.00900
2 0 27 0.02700
3 0 11 0.01100
4 0 8 0.00800
5 0 0 0.00000
6 0 7 0.00700
7 0 3 0.00300
8 0 35 0.03500
9 0 19 0.01900
0 1 5 0.00500
1 1 938 0.93800
2 1 1 0.00100
3 1 2 0.00200
4 1 1 0.00100
5 1 1 0.00100
6 1 3 0.00300
7 1 1 0.00100
8 1 8 0.00800
9 1 40 0.04000
0 2 25 0.02500
1 2 2 0.00200
2 2 793 0.79300
3 2 31 0.03100
4 2 56 0.05600
5 2 31 0.03100
6 2 44 0.04400
7 2 12 0.01200
8 2 4 0.00400
9 2 2 0.00200
0 3 13 0.01300
1 3 5 0.00500
2 3 49 0.04900
3 3 695 0.69500
4 3 39 0.03900
5 3 120 0.12000
6 3 41 0.04100
7 3 23 0.02300
8 3 9 0.00900
9 3 6 0.00600
0 4 2 0.00200
1 4 2 0.00200
2 4 34 0.03400
3 4 32 0.03200
4 4 852 0.85200
5 4 20 0.02000
6 4 30 0.03000
7 4 23 0.02300
8 4 4 0.00400
9 4 1 0.00100
0 5 5 0.00500
1 5 1 0.00100
2 5 28 0.02800
3 5 97 0.09700
4 5 31 0.03100
5 5 798 0.79800
6 5 13 0.01300
7 5 26 0.02600
8 5 1 0.00100
9 5 0 0.00000
0 6 4 0.00400
1 6 2 0.00200
2 6 31 0.03100
3 6 34 0.03400
4 6 15 0.01500
5 6 11 0.01100
6 6 896 0.89600
7 6 6 0.00600
8 6 1 0.00100
9 6 0 0.00000
0 7 14 0.01400
1 7 2 0.00200
2 7 15 0.01500
3 7 20 0.02000
4 7 28 0.02800
5 7 28 0.02800
6 7 2 0.00200
7 7 885 0.88500
8 7 0 0.00000
9 7 6 0.00600
0 8 38 0.03800
1 8 14 0.01400
2 8 8 0.00800
3 8 7 0.00700
4 8 1 0.00100
5 8 2 0.00200
6 8 7 0.00700
7 8 3 0.00300
8 8 912 0.91200
9 8 8 0.00800
0 9 14 0.01400
1 9 42 0.04200
2 9 5 0.00500
3 9 6 0.00600
4 9 0 0.00000
5 9 0 0.00000
6 9 5 0.00500
7 9 0 0.00000
8 9 16 0.01600
9 9 912 0.91200
EOD
plot $counts using 1:2:4 with image notitle, \
     $counts using 1:2:($4 > 0.5 ? sprintf('%g', $3) : '') with labels tc rgb 'white' font 'sans,9' notitle, \
     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%g', $3)) with labels tc rgb 'black' font 'sans,9' notitle
