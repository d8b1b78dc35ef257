set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = 'results/cifar10/airbench-he/confusion.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
unset grid
set datafile separator whitespace
set title 'results/cifar10/airbench-he/checkpoint.h5: accuracy 0.9008, balanced 0.9008'
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
0 0 926 0.92600
1 0 4 0.00400
2 0 15 0.01500
3 0 6 0.00600
4 0 6 0.00600
5 0 0 0.00000
6 0 2 0.00200
7 0 5 0.00500
8 0 28 0.02800
9 0 8 0.00800
0 1 3 0.00300
1 1 957 0.95700
2 1 0 0.00000
3 1 3 0.00300
4 1 1 0.00100
5 1 0 0.00000
6 1 2 0.00200
7 1 1 0.00100
8 1 6 0.00600
9 1 27 0.02700
0 2 34 0.03400
1 2 0 0.00000
2 2 855 0.85500
3 2 28 0.02800
4 2 34 0.03400
5 2 15 0.01500
6 2 16 0.01600
7 2 9 0.00900
8 2 6 0.00600
9 2 3 0.00300
0 3 10 0.01000
1 3 1 0.00100
2 3 37 0.03700
3 3 789 0.78900
4 3 32 0.03200
5 3 79 0.07900
6 3 28 0.02800
7 3 16 0.01600
8 3 5 0.00500
9 3 3 0.00300
0 4 6 0.00600
1 4 1 0.00100
2 4 25 0.02500
3 4 21 0.02100
4 4 911 0.91100
5 4 9 0.00900
6 4 10 0.01000
7 4 14 0.01400
8 4 3 0.00300
9 4 0 0.00000
0 5 7 0.00700
1 5 0 0.00000
2 5 13 0.01300
3 5 91 0.09100
4 5 20 0.02000
5 5 836 0.83600
6 5 8 0.00800
7 5 23 0.02300
8 5 1 0.00100
9 5 1 0.00100
0 6 5 0.00500
1 6 1 0.00100
2 6 20 0.02000
3 6 23 0.02300
4 6 9 0.00900
5 6 9 0.00900
6 6 929 0.92900
7 6 1 0.00100
8 6 2 0.00200
9 6 1 0.00100
0 7 7 0.00700
1 7 0 0.00000
2 7 14 0.01400
3 7 11 0.01100
4 7 22 0.02200
5 7 13 0.01300
6 7 0 0.00000
7 7 929 0.92900
8 7 1 0.00100
9 7 3 0.00300
0 8 24 0.02400
1 8 6 0.00600
2 8 5 0.00500
3 8 4 0.00400
4 8 2 0.00200
5 8 1 0.00100
6 8 2 0.00200
7 8 0 0.00000
8 8 946 0.94600
9 8 10 0.01000
0 9 12 0.01200
1 9 26 0.02600
2 9 4 0.00400
3 9 6 0.00600
4 9 0 0.00000
5 9 0 0.00000
6 9 3 0.00300
7 9 4 0.00400
8 9 15 0.01500
9 9 930 0.93000
EOD
plot $counts using 1:2:4 with image notitle, \
     $counts using 1:2:($4 > 0.5 ? sprintf('%g', $3) : '') with labels tc rgb 'white' font 'sans,9' notitle, \
     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%g', $3)) with labels tc rgb 'black' font 'sans,9' notitle
