set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = 'results/cifar10/whiten/confusion.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
unset grid
set datafile separator whitespace
set title 'results/cifar10/whiten/checkpoint.h5: accuracy 0.8820, balanced 0.8820'
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
0 0 910 0.91000
1 0 5 0.00500
2 0 19 0.01900
3 0 8 0.00800
4 0 4 0.00400
5 0 0 0.00000
6 0 4 0.00400
7 0 9 0.00900
8 0 29 0.02900
9 0 12 0.01200
0 1 6 0.00600
1 1 940 0.94000
2 1 2 0.00200
3 1 3 0.00300
4 1 1 0.00100
5 1 0 0.00000
6 1 2 0.00200
7 1 1 0.00100
8 1 7 0.00700
9 1 38 0.03800
0 2 37 0.03700
1 2 0 0.00000
2 2 836 0.83600
3 2 29 0.02900
4 2 40 0.04000
5 2 21 0.02100
6 2 18 0.01800
7 2 11 0.01100
8 2 8 0.00800
9 2 0 0.00000
0 3 9 0.00900
1 3 1 0.00100
2 3 30 0.03000
3 3 760 0.76000
4 3 35 0.03500
5 3 94 0.09400
6 3 33 0.03300
7 3 25 0.02500
8 3 7 0.00700
9 3 6 0.00600
0 4 9 0.00900
1 4 2 0.00200
2 4 32 0.03200
3 4 24 0.02400
4 4 881 0.88100
5 4 14 0.01400
6 4 13 0.01300
7 4 20 0.02000
8 4 5 0.00500
9 4 0 0.00000
0 5 8 0.00800
1 5 1 0.00100
2 5 16 0.01600
3 5 103 0.10300
4 5 25 0.02500
5 5 812 0.81200
6 5 12 0.01200
7 5 21 0.02100
8 5 2 0.00200
9 5 0 0.00000
0 6 6 0.00600
1 6 1 0.00100
2 6 25 0.02500
3 6 30 0.03000
4 6 9 0.00900
5 6 8 0.00800
6 6 917 0.91700
7 6 3 0.00300
8 6 0 0.00000
9 6 1 0.00100
0 7 12 0.01200
1 7 0 0.00000
2 7 8 0.00800
3 7 23 0.02300
4 7 27 0.02700
5 7 22 0.02200
6 7 0 0.00000
7 7 902 0.90200
8 7 2 0.00200
9 7 4 0.00400
0 8 27 0.02700
1 8 6 0.00600
2 8 4 0.00400
3 8 5 0.00500
4 8 3 0.00300
5 8 1 0.00100
6 8 2 0.00200
7 8 0 0.00000
8 8 943 0.94300
9 8 9 0.00900
0 9 16 0.01600
1 9 31 0.03100
2 9 4 0.00400
3 9 7 0.00700
4 9 0 0.00000
5 9 0 0.00000
6 9 6 0.00600
7 9 3 0.00300
8 9 14 0.01400
9 9 919 0.91900
EOD
plot $counts using 1:2:4 with image notitle, \
     $counts using 1:2:($4 > 0.5 ? sprintf('%g', $3) : '') with labels tc rgb 'white' font 'sans,9' notitle, \
     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%g', $3)) with labels tc rgb 'black' font 'sans,9' notitle
