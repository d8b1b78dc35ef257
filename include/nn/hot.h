/* hot.h: NN_HOT marks an elementwise hot loop: gcc compiles it for AVX-512,
 * AVX2 and baseline x86-64 and picks the best at load time (target_clones),
 * so one binary is portable and still uses the wide vectors it finds. */
#ifndef NN_HOT_H
#define NN_HOT_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(NN_NO_CLONES)
#define NN_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_HOT
#endif

#endif
