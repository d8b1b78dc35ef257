set terminal pngcairo size 900,540 font 'sans,11'
if (!exists("outfile")) outfile = 'results/cifar10/resnet/confusion.png'
set output outfile
set datafile separator ','
set grid
set key right center
set termoption noenhanced
set xlabel 'epoch'
unset grid
set datafile separator whitespace
set title 'results/cifar10/resnet/checkpoint.h5: accuracy 0.8606, balanced 0.8606'
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
1 0 12 0.01200
2 0 23 0.02300
3 0 9 0.00900
4 0 6 0.00600
5 0 1 0.00100
6 0 8 0.00800
7 0 4 0.00400
8 0 39 0.03900
9 0 17 0.01700
0 1 5 0.00500
1 1 945 0.94500
2 1 3 0.00300
3 1 3 0.00300
4 1 1 0.00100
5 1 1 0.00100
6 1 1 0.00100
7 1 1 0.00100
8 1 7 0.00700
9 1 33 0.03300
0 2 35 0.03500
1 2 0 0.00000
2 2 792 0.79200
3 2 37 0.03700
4 2 53 0.05300
5 2 32 0.03200
6 2 25 0.02500
7 2 10 0.01000
8 2 12 0.01200
9 2 4 0.00400
0 3 11 0.01100
1 3 2 0.00200
2 3 47 0.04700
3 3 714 0.71400
4 3 40 0.04000
5 3 113 0.11300
6 3 27 0.02700
7 3 20 0.02000
8 3 8 0.00800
9 3 18 0.01800
0 4 7 0.00700
1 4 1 0.00100
2 4 35 0.03500
3 4 21 0.02100
4 4 860 0.86000
5 4 21 0.02100
6 4 24 0.02400
7 4 26 0.02600
8 4 4 0.00400
9 4 1 0.00100
0 5 3 0.00300
1 5 1 0.00100
2 5 16 0.01600
3 5 108 0.10800
4 5 35 0.03500
5 5 797 0.79700
6 5 11 0.01100
7 5 25 0.02500
8 5 1 0.00100
9 5 3 0.00300
0 6 7 0.00700
1 6 2 0.00200
2 6 31 0.03100
3 6 35 0.03500
4 6 18 0.01800
5 6 8 0.00800
6 6 890 0.89000
7 6 4 0.00400
8 6 3 0.00300
9 6 2 0.00200
0 7 14 0.01400
1 7 1 0.00100
2 7 7 0.00700
3 7 32 0.03200
4 7 31 0.03100
5 7 25 0.02500
6 7 0 0.00000
7 7 886 0.88600
8 7 0 0.00000
9 7 4 0.00400
0 8 36 0.03600
1 8 7 0.00700
2 8 5 0.00500
3 8 7 0.00700
4 8 2 0.00200
5 8 1 0.00100
6 8 4 0.00400
7 8 2 0.00200
8 8 923 0.92300
9 8 13 0.01300
0 9 16 0.01600
1 9 37 0.03700
2 9 3 0.00300
3 9 7 0.00700
4 9 0 0.00000
5 9 1 0.00100
6 9 2 0.00200
7 9 2 0.00200
8 9 14 0.01400
9 9 918 0.91800
EOD
plot $counts using 1:2:4 with image notitle, \
     $counts using 1:2:($4 > 0.5 ? sprintf('%g', $3) : '') with labels tc rgb 'white' font 'sans,9' notitle, \
     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%g', $3)) with labels tc rgb 'black' font 'sans,9' notitle
