set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = 'results/cifar10/airbench-11/confusion.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
unset grid
set datafile separator whitespace
set title 'results/cifar10/airbench-11/checkpoint.h5: accuracy 0.9108, balanced 0.9108'
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
0 0 934 0.93400
1 0 4 0.00400
2 0 14 0.01400
3 0 7 0.00700
4 0 4 0.00400
5 0 0 0.00000
6 0 5 0.00500
7 0 4 0.00400
8 0 19 0.01900
9 0 9 0.00900
0 1 6 0.00600
1 1 959 0.95900
2 1 0 0.00000
3 1 0 0.00000
4 1 0 0.00000
5 1 1 0.00100
6 1 3 0.00300
7 1 0 0.00000
8 1 3 0.00300
9 1 28 0.02800
0 2 27 0.02700
1 2 0 0.00000
2 2 870 0.87000
3 2 28 0.02800
4 2 31 0.03100
5 2 17 0.01700
6 2 15 0.01500
7 2 7 0.00700
8 2 3 0.00300
9 2 2 0.00200
0 3 6 0.00600
1 3 1 0.00100
2 3 24 0.02400
3 3 820 0.82000
4 3 30 0.03000
5 3 75 0.07500
6 3 26 0.02600
7 3 7 0.00700
8 3 5 0.00500
9 3 6 0.00600
0 4 3 0.00300
1 4 1 0.00100
2 4 21 0.02100
3 4 26 0.02600
4 4 917 0.91700
5 4 8 0.00800
6 4 10 0.01000
7 4 10 0.01000
8 4 4 0.00400
9 4 0 0.00000
0 5 6 0.00600
1 5 0 0.00000
2 5 16 0.01600
3 5 89 0.08900
4 5 21 0.02100
5 5 842 0.84200
6 5 7 0.00700
7 5 18 0.01800
8 5 0 0.00000
9 5 1 0.00100
0 6 6 0.00600
1 6 1 0.00100
2 6 12 0.01200
3 6 20 0.02000
4 6 5 0.00500
5 6 2 0.00200
6 6 950 0.95000
7 6 2 0.00200
8 6 0 0.00000
9 6 2 0.00200
0 7 7 0.00700
1 7 0 0.00000
2 7 9 0.00900
3 7 17 0.01700
4 7 15 0.01500
5 7 13 0.01300
6 7 1 0.00100
7 7 933 0.93300
8 7 1 0.00100
9 7 4 0.00400
0 8 27 0.02700
1 8 5 0.00500
2 8 5 0.00500
3 8 5 0.00500
4 8 0 0.00000
5 8 1 0.00100
6 8 2 0.00200
7 8 1 0.00100
8 8 945 0.94500
9 8 9 0.00900
0 9 10 0.01000
1 9 30 0.03000
2 9 2 0.00200
3 9 5 0.00500
4 9 0 0.00000
5 9 0 0.00000
6 9 3 0.00300
7 9 0 0.00000
8 9 12 0.01200
9 9 938 0.93800
EOD
plot $counts using 1:2:4 with image notitle, \
     $counts using 1:2:($4 > 0.5 ? sprintf('%g', $3) : '') with labels tc rgb 'white' font 'sans,9' notitle, \
     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%g', $3)) with labels tc rgb 'black' font 'sans,9' notitle
