set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = 'results/cifar10/airbench/confusion.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
unset grid
set datafile separator whitespace
set title 'results/cifar10/airbench/checkpoint.h5: accuracy 0.9008, balanced 0.9008'
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
0 0 923 0.92300
1 0 4 0.00400
2 0 15 0.01500
3 0 12 0.01200
4 0 6 0.00600
5 0 0 0.00000
6 0 3 0.00300
7 0 3 0.00300
8 0 26 0.02600
9 0 8 0.00800
0 1 5 0.00500
1 1 955 0.95500
2 1 0 0.00000
3 1 4 0.00400
4 1 0 0.00000
5 1 0 0.00000
6 1 2 0.00200
7 1 1 0.00100
8 1 8 0.00800
9 1 25 0.02500
0 2 28 0.02800
1 2 0 0.00000
2 2 853 0.85300
3 2 26 0.02600
4 2 34 0.03400
5 2 21 0.02100
6 2 19 0.01900
7 2 9 0.00900
8 2 7 0.00700
9 2 3 0.00300
0 3 8 0.00800
1 3 1 0.00100
2 3 33 0.03300
3 3 802 0.80200
4 3 27 0.02700
5 3 80 0.08000
6 3 27 0.02700
7 3 11 0.01100
8 3 4 0.00400
9 3 7 0.00700
0 4 2 0.00200
1 4 1 0.00100
2 4 25 0.02500
3 4 24 0.02400
4 4 908 0.90800
5 4 9 0.00900
6 4 9 0.00900
7 4 18 0.01800
8 4 4 0.00400
9 4 0 0.00000
0 5 5 0.00500
1 5 0 0.00000
2 5 12 0.01200
3 5 99 0.09900
4 5 21 0.02100
5 5 831 0.83100
6 5 9 0.00900
7 5 21 0.02100
8 5 1 0.00100
9 5 1 0.00100
0 6 7 0.00700
1 6 1 0.00100
2 6 17 0.01700
3 6 27 0.02700
4 6 10 0.01000
5 6 3 0.00300
6 6 932 0.93200
7 6 2 0.00200
8 6 0 0.00000
9 6 1 0.00100
0 7 9 0.00900
1 7 0 0.00000
2 7 7 0.00700
3 7 22 0.02200
4 7 18 0.01800
5 7 15 0.01500
6 7 1 0.00100
7 7 923 0.92300
8 7 1 0.00100
9 7 4 0.00400
0 8 26 0.02600
1 8 8 0.00800
2 8 4 0.00400
3 8 4 0.00400
4 8 1 0.00100
5 8 2 0.00200
6 8 1 0.00100
7 8 0 0.00000
8 8 947 0.94700
9 8 7 0.00700
0 9 12 0.01200
1 9 29 0.02900
2 9 3 0.00300
3 9 4 0.00400
4 9 0 0.00000
5 9 1 0.00100
6 9 2 0.00200
7 9 1 0.00100
8 9 14 0.01400
9 9 934 0.93400
EOD
plot $counts using 1:2:4 with image notitle, \
     $counts using 1:2:($4 > 0.5 ? sprintf('%g', $3) : '') with labels tc rgb 'white' font 'sans,9' notitle, \
     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%g', $3)) with labels tc rgb 'black' font 'sans,9' notitle
