set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = 'results/cifar10/airbench-gelu/confusion.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
unset grid
set datafile separator whitespace
set title 'results/cifar10/airbench-gelu/checkpoint.h5: accuracy 0.9091, balanced 0.9091'
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
0 0 930 0.93000
1 0 7 0.00700
2 0 11 0.01100
3 0 9 0.00900
4 0 6 0.00600
5 0 0 0.00000
6 0 1 0.00100
7 0 4 0.00400
8 0 24 0.02400
9 0 8 0.00800
0 1 6 0.00600
1 1 956 0.95600
2 1 0 0.00000
3 1 2 0.00200
4 1 0 0.00000
5 1 1 0.00100
6 1 4 0.00400
7 1 0 0.00000
8 1 4 0.00400
9 1 27 0.02700
0 2 24 0.02400
1 2 0 0.00000
2 2 860 0.86000
3 2 24 0.02400
4 2 39 0.03900
5 2 18 0.01800
6 2 18 0.01800
7 2 7 0.00700
8 2 8 0.00800
9 2 2 0.00200
0 3 9 0.00900
1 3 1 0.00100
2 3 30 0.03000
3 3 810 0.81000
4 3 30 0.03000
5 3 76 0.07600
6 3 23 0.02300
7 3 12 0.01200
8 3 4 0.00400
9 3 5 0.00500
0 4 6 0.00600
1 4 0 0.00000
2 4 21 0.02100
3 4 20 0.02000
4 4 916 0.91600
5 4 12 0.01200
6 4 10 0.01000
7 4 11 0.01100
8 4 4 0.00400
9 4 0 0.00000
0 5 4 0.00400
1 5 1 0.00100
2 5 13 0.01300
3 5 88 0.08800
4 5 20 0.02000
5 5 848 0.84800
6 5 9 0.00900
7 5 17 0.01700
8 5 0 0.00000
9 5 0 0.00000
0 6 5 0.00500
1 6 1 0.00100
2 6 14 0.01400
3 6 21 0.02100
4 6 9 0.00900
5 6 5 0.00500
6 6 940 0.94000
7 6 2 0.00200
8 6 1 0.00100
9 6 2 0.00200
0 7 5 0.00500
1 7 0 0.00000
2 7 8 0.00800
3 7 12 0.01200
4 7 16 0.01600
5 7 18 0.01800
6 7 1 0.00100
7 7 934 0.93400
8 7 1 0.00100
9 7 5 0.00500
0 8 23 0.02300
1 8 3 0.00300
2 8 3 0.00300
3 8 6 0.00600
4 8 1 0.00100
5 8 1 0.00100
6 8 1 0.00100
7 8 0 0.00000
8 8 953 0.95300
9 8 9 0.00900
0 9 10 0.01000
1 9 28 0.02800
2 9 3 0.00300
3 9 2 0.00200
4 9 0 0.00000
5 9 1 0.00100
6 9 1 0.00100
7 9 1 0.00100
8 9 10 0.01000
9 9 944 0.94400
EOD
plot $counts using 1:2:4 with image notitle, \
     $counts using 1:2:($4 > 0.5 ? sprintf('%g', $3) : '') with labels tc rgb 'white' font 'sans,9' notitle, \
     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%g', $3)) with labels tc rgb 'black' font 'sans,9' notitle
