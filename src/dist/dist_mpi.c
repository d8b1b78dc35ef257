/* dist_mpi.c: nn_dist over MPI (the only file that includes mpi.h). */
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "nn/dist.h"
#include "nn/error.h"
#include "nn/hot.h"

/* Ranks on one node reduce their gradients through node-shared memory rather
 * than through MPI_Allreduce, which copies every buffer between processes.
 * Each rank's gradient buffer lives in one shared segment per node; in a step,
 * local rank r sums slice r of all the node's buffers (reading the others'
 * memory directly), reduces that slice with the same rank on every other
 * node over MPI, and writes the result into slice r of every local buffer.
 * Two node barriers frame it. Each slice is summed once, in local-rank order,
 * so every rank ends with the same bits.
 *
 * The buffers are POSIX shared memory (shm_open + posix_fallocate + mmap), not
 * an MPI-3 window: when Open MPI cannot create a window's backing file, the
 * ranks of MPI_Win_allocate_shared do not all return, and the job hangs
 * (seen with a bad osc_sm_backing_directory). Here every failure is a return
 * value, agreed over all ranks, and leads to the MPI_Allreduce path. The
 * space is reserved with posix_fallocate, so a full /dev/shm (64 MB by
 * default in Docker) is an error now rather than a SIGBUS later. */
typedef struct {
    MPI_Comm node;  /* the ranks on this node */
    MPI_Comm cross; /* this local rank on every node; NULL when not uniform */
    void *seg;      /* the node's shared segment (POSIX shm, mapped), or NULL */
    size_t seg_bytes;
    float **peer;   /* each local rank's gradient buffer */
    size_t n;       /* floats in each */
    /* After the buffers: each local rank's last step reached, one cache line
     * apiece (nn_dist_heartbeat), and its world rank. */
    unsigned long long *beat;
    int *world_of; /* (local_size) */
    /* Every local rank's world rank and process id (gathered at init, with
     * or without the shared segment), for nn_dist_stopped. */
    long (*procs)[2];
    /* The overlapped reduction of the step in progress (nn_dist_reduce_*):
     * the buckets go over communicators of their own (duplicates of the
     * world and of `cross`), so that they never match another collective. */
    MPI_Comm world_grad, cross_grad;
    struct {
        bool open, shared;
        float *buf;
        size_t n, body, bucket, hi; /* buf[hi, body) has been started */
        MPI_Request *req;
        int nreq, capreq;
        size_t *slice; /* shared: (lo, hi) pairs of this rank's slices, to copy out */
        int nslice, capslice;
    } pipe;
} dist_impl;

const char *nn_dist_kind(void) { return "mpi"; }

void nn_dist_library(char *buf, size_t n) {
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len); /* allowed before MPI_Init */
    v[strcspn(v, ",\n")] = 0;
    snprintf(buf, n, "%s", v);
}

int nn_dist_init(nn_dist *d, int *argc, char ***argv) {
    memset(d, 0, sizeof *d);
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS) return nn_fail("MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    dist_impl *im = nn_calloc(1, sizeof *im, "MPI state");
    if (!im) return NN_ERR;
    d->impl = im;
    /* NNTRAIN_TEST_NODE_SIZE=k makes blocks of k ranks pose as nodes, so the
     * tests can run the multi-node reduction on one machine. */
    const char *fake = getenv("NNTRAIN_TEST_NODE_SIZE");
    if (fake && atoi(fake) > 0)
        MPI_Comm_split(MPI_COMM_WORLD, d->rank / atoi(fake), d->rank, &im->node);
    else
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL,
                            &im->node);
    MPI_Comm_rank(im->node, &d->local_rank);
    MPI_Comm_size(im->node, &d->local_size);
    /* The hierarchical reduction needs the same number of ranks on every
     * node (slice r of each node then lines up). */
    /* Who runs on this node, for the watchdog's report of stopped ranks. */
    long me[2] = {d->rank, (long)getpid()};
    im->procs = calloc((size_t)d->local_size, sizeof *im->procs);
    if (im->procs) MPI_Allgather(me, 2, MPI_LONG, im->procs, 2, MPI_LONG, im->node);
    int lo = d->local_size, hi = d->local_size;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    im->cross = im->world_grad = im->cross_grad = MPI_COMM_NULL;
    if (lo == hi) MPI_Comm_split(MPI_COMM_WORLD, d->local_rank, d->rank, &im->cross);
    return NN_OK;
}

/* Every rank must take the same path (a step would otherwise pair a node
 * barrier with an MPI_Allreduce and hang), so each decision is agreed over
 * all ranks: 1 only if it is 1 everywhere. */
static int all_agree(int mine) {
    MPI_Allreduce(MPI_IN_PLACE, &mine, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return mine;
}

/* Local rank 0 creates and sizes the segment, the others open it; the name
 * travels over the node communicator. Returns the mapping or NULL. */
static void *map_segment(dist_impl *im, int local_rank, size_t bytes) {
    char name[96];
    int fd = -1, ok = 1;
    if (local_rank == 0) {
        snprintf(name, sizeof name, "/nntrain.%ld.%ld", (long)getpid(), (long)time(NULL));
        fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
        ok = fd >= 0 && posix_fallocate(fd, 0, (off_t)bytes) == 0;
    }
    MPI_Bcast(name, sizeof name, MPI_CHAR, 0, im->node);
    MPI_Bcast(&ok, 1, MPI_INT, 0, im->node);
    if (ok && local_rank != 0) fd = shm_open(name, O_RDWR, 0600);
    void *seg = ok && fd >= 0 ? mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : NULL;
    if (seg == MAP_FAILED) seg = NULL;
    /* NNTRAIN_TEST_SHM_FAIL=r: local rank r's mapping fails (for the tests). */
    const char *fail = getenv("NNTRAIN_TEST_SHM_FAIL");
    if (seg && fail && atoi(fail) == local_rank) munmap(seg, bytes), seg = NULL;
    if (fd >= 0) close(fd);
    /* Everyone has it mapped (or gave up): the name is no longer needed, so
     * nothing is left in /dev/shm whatever happens to the job later. */
    MPI_Barrier(im->node);
    if (local_rank == 0 && fd >= 0) shm_unlink(name);
    return seg;
}

float *nn_dist_shared_buffer(nn_dist *d, size_t n) {
    dist_impl *im = d->impl;
    if (!im || d->size == 1 || im->seg) return NULL;
    const char *env = getenv("NNTRAIN_SHM");
    if (!all_agree(d->local_size >= 2 && im->cross != MPI_COMM_NULL && !(env && !strcmp(env, "0"))))
        return NULL;
    /* One buffer per local rank, each on whole cache lines (no two ranks
     * write to one line). */
    const size_t stride = (n + 15) / 16 * 16, L = (size_t)d->local_size;
    const size_t bytes = stride * L * sizeof(float) + L * 64;
    void *seg = map_segment(im, d->local_rank, bytes);
    float **peer = seg ? nn_calloc(L, sizeof(float *), "shared buffer table") : NULL;
    int *world_of = seg ? nn_calloc(L, sizeof(int), "node rank table") : NULL;
    if (!all_agree(seg && peer && world_of)) {
        if (seg) munmap(seg, bytes);
        free(peer), free(world_of);
        return NULL;
    }
    MPI_Allgather(&d->rank, 1, MPI_INT, world_of, 1, MPI_INT, im->node);
    for (size_t q = 0; q < L; q++) peer[q] = (float *)seg + q * stride;
    im->seg = seg, im->seg_bytes = bytes, im->peer = peer;
    im->beat = (unsigned long long *)((float *)seg + L * stride);
    im->world_of = world_of;
    im->n = n;
    memset(peer[d->local_rank], 0, stride * sizeof(float));
    return peer[d->local_rank];
}

/* Every local rank's writes are visible to the others after this. */
static void node_sync(dist_impl *im) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    MPI_Barrier(im->node);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* dst[i] = sum over q of src[q][i], summed in q order. */
NN_HOT static void sum_slices(float *restrict dst, float *const *src, int nsrc, size_t lo,
                              size_t n) {
    for (size_t i = 0; i < n; i++) {
        float acc = src[0][lo + i];
        for (int q = 1; q < nsrc; q++) acc += src[q][lo + i];
        dst[i] = acc;
    }
}

/* In-place float sum over comm; MPI counts are int, so in chunks. */
static int allreduce_floats(MPI_Comm comm, float *buf, size_t n) {
    for (size_t off = 0; off < n; off += 1u << 30) {
        int cnt = (int)(n - off < (1u << 30) ? n - off : (1u << 30));
        if (MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_FLOAT, MPI_SUM, comm) != MPI_SUCCESS)
            return nn_fail("MPI_Allreduce of %zu floats failed", n);
    }
    return NN_OK;
}

/* This rank's part of buf[lo, hi) among the L local ranks: slice boundaries
 * on cache lines from lo, the last slice takes the remainder. */
static void local_slice(size_t lo, size_t hi, int me, int L, size_t *a, size_t *b) {
    const size_t len = hi - lo;
    *a = lo + len * (size_t)me / (size_t)L / 16 * 16;
    *b = me + 1 == L ? hi : lo + len * (size_t)(me + 1) / (size_t)L / 16 * 16;
}

/* buf[a, b) = the sum of every local buffer's [a, b) (buf is one of them). */
static void sum_local(dist_impl *im, int L, float *buf, size_t a, size_t b) {
    float tmp[1024];
    for (size_t x = a; x < b; x += 1024) {
        const size_t m = b - x < 1024 ? b - x : 1024;
        sum_slices(tmp, im->peer, L, x, m);
        memcpy(buf + x, tmp, m * sizeof(float));
    }
}

/* Every other local buffer's [a, b) = buf's. */
static void copy_out(dist_impl *im, int L, const float *buf, size_t a, size_t b) {
    for (int q = 0; q < L; q++)
        if (im->peer[q] != buf) memcpy(im->peer[q] + a, buf + a, (b - a) * sizeof(float));
}

static int shared_allreduce(nn_dist *d, float *buf, size_t n) {
    dist_impl *im = d->impl;
    const int L = d->local_size;
    size_t lo, hi;
    local_slice(0, n, d->local_rank, L, &lo, &hi);
    node_sync(im);
    sum_local(im, L, buf, lo, hi);
    int csize = 1;
    MPI_Comm_size(im->cross, &csize);
    if (csize > 1 && hi > lo) NN_TRY(allreduce_floats(im->cross, buf + lo, hi - lo));
    copy_out(im, L, buf, lo, hi);
    node_sync(im);
    return NN_OK;
}

/* ---- the overlapped, bucketed reduction ---- */

/* Start an in-place MPI_Iallreduce of buf[0, n) (in pieces MPI's int counts
 * can hold). */
static int start_iallreduce(dist_impl *im, MPI_Comm comm, float *buf, size_t n) {
    for (size_t off = 0; off < n; off += 1u << 30) {
        const int cnt = (int)(n - off < (1u << 30) ? n - off : (1u << 30));
        if (im->pipe.nreq == im->pipe.capreq) {
            const int cap = im->pipe.capreq ? 2 * im->pipe.capreq : 16;
            MPI_Request *r = realloc(im->pipe.req, (size_t)cap * sizeof *r);
            if (!r) return nn_fail("out of memory for the gradient reduction's requests");
            im->pipe.req = r, im->pipe.capreq = cap;
        }
        if (MPI_Iallreduce(MPI_IN_PLACE, buf + off, cnt, MPI_FLOAT, MPI_SUM, comm,
                           &im->pipe.req[im->pipe.nreq++]) != MPI_SUCCESS)
            return nn_fail("MPI_Iallreduce of %d floats failed", cnt);
    }
    return NN_OK;
}

/* Start reducing buf[lo, hi). Through the node's shared buffers: wait for the
 * node's ranks to reach it, sum this rank's slice over them, and send that
 * slice to the same rank of every other node; end() copies it back out. */
static int start_bucket(nn_dist *d, size_t lo, size_t hi) {
    dist_impl *im = d->impl;
    float *buf = im->pipe.buf;
    if (hi <= lo) return NN_OK;
    if (!im->pipe.shared) return start_iallreduce(im, im->world_grad, buf + lo, hi - lo);
    size_t a, b;
    local_slice(lo, hi, d->local_rank, d->local_size, &a, &b);
    node_sync(im);
    sum_local(im, d->local_size, buf, a, b);
    if (im->pipe.nslice == im->pipe.capslice) {
        const int cap = im->pipe.capslice ? 2 * im->pipe.capslice : 16;
        size_t *sl = realloc(im->pipe.slice, 2 * (size_t)cap * sizeof *sl);
        if (!sl) return nn_fail("out of memory for the gradient reduction's slices");
        im->pipe.slice = sl, im->pipe.capslice = cap;
    }
    im->pipe.slice[2 * im->pipe.nslice] = a, im->pipe.slice[2 * im->pipe.nslice + 1] = b;
    im->pipe.nslice++;
    return im->cross_grad != MPI_COMM_NULL && b > a
               ? start_iallreduce(im, im->cross_grad, buf + a, b - a)
               : NN_OK;
}

bool nn_dist_overlap_useful(const nn_dist *d) {
    const dist_impl *im = d->impl;
    if (d->size == 1 || !im) return false;
    if (!im->seg) return true;
    int csize = 1;
    MPI_Comm_size(im->cross, &csize);
    return csize > 1;
}

int nn_dist_reduce_begin(nn_dist *d, float *buf, size_t n, size_t body, size_t bucket_floats) {
    dist_impl *im = d->impl;
    if (d->size == 1) return NN_OK;
    const bool shared = im->seg && buf == im->peer[d->local_rank] && n == im->n;
    if (!shared && im->world_grad == MPI_COMM_NULL) /* collective: every rank, same step */
        MPI_Comm_dup(MPI_COMM_WORLD, &im->world_grad);
    if (shared && im->cross_grad == MPI_COMM_NULL) {
        int csize = 1;
        MPI_Comm_size(im->cross, &csize);
        if (csize > 1) MPI_Comm_dup(im->cross, &im->cross_grad);
    }
    im->pipe.open = true, im->pipe.shared = shared, im->pipe.buf = buf;
    im->pipe.n = n, im->pipe.body = body, im->pipe.hi = body;
    im->pipe.bucket = bucket_floats ? bucket_floats : 1;
    im->pipe.nreq = im->pipe.nslice = 0;
    return NN_OK;
}

int nn_dist_reduce_ready(nn_dist *d, size_t from) {
    dist_impl *im = d->impl;
    if (d->size == 1 || !im->pipe.open) return NN_OK;
    const double t0 = MPI_Wtime();
    int done = 0, rc = NN_OK;
    if (im->pipe.nreq) MPI_Testall(im->pipe.nreq, im->pipe.req, &done, MPI_STATUSES_IGNORE);
    if (from < im->pipe.hi && im->pipe.hi - from >= im->pipe.bucket) {
        rc = start_bucket(d, from, im->pipe.hi);
        im->pipe.hi = from;
    }
    d->wait_seconds += MPI_Wtime() - t0;
    return rc;
}

int nn_dist_reduce_end(nn_dist *d) {
    dist_impl *im = d->impl;
    if (d->size == 1 || !im->pipe.open) return NN_OK;
    const double t0 = MPI_Wtime();
    im->pipe.open = false;
    /* Every rank starts the same buckets, whatever failed on the way. */
    int rc = start_bucket(d, 0, im->pipe.hi);
    const int rc2 = start_bucket(d, im->pipe.body, im->pipe.n);
    if (im->pipe.nreq && MPI_Waitall(im->pipe.nreq, im->pipe.req, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
        rc = nn_fail("waiting for the gradient reduction failed");
    if (im->pipe.shared) {
        for (int i = 0; i < im->pipe.nslice; i++)
            copy_out(im, d->local_size, im->pipe.buf, im->pipe.slice[2 * i],
                     im->pipe.slice[2 * i + 1]);
        node_sync(im);
    }
    d->wait_seconds += MPI_Wtime() - t0;
    return rc != NN_OK ? rc : rc2;
}

void nn_dist_free(nn_dist *d) {
    int fin = 0;
    MPI_Finalized(&fin);
    dist_impl *im = d->impl;
    if (im && !fin) {
        if (im->cross != MPI_COMM_NULL) MPI_Comm_free(&im->cross);
        if (im->world_grad != MPI_COMM_NULL) MPI_Comm_free(&im->world_grad);
        if (im->cross_grad != MPI_COMM_NULL) MPI_Comm_free(&im->cross_grad);
        MPI_Comm_free(&im->node);
    }
    if (im && im->seg) munmap(im->seg, im->seg_bytes);
    if (im) free(im->peer), free(im->world_of), free(im->pipe.req), free(im->pipe.slice);
    if (im) free(im->procs);
    free(im);
    if (!fin) MPI_Finalize();
    memset(d, 0, sizeof *d);
}

int nn_dist_allreduce_sum(nn_dist *d, float *buf, size_t n) {
    if (d->size == 1) return NN_OK;
    double t0 = MPI_Wtime();
    const dist_impl *im = d->impl;
    const bool shared = im && im->seg && buf == im->peer[d->local_rank] && n == im->n;
    int rc = shared ? shared_allreduce(d, buf, n) : allreduce_floats(MPI_COMM_WORLD, buf, n);
    d->wait_seconds += MPI_Wtime() - t0;
    return rc;
}

int nn_dist_allreduce_sum_f64(nn_dist *d, double *buf, size_t n) {
    if (d->size == 1) return NN_OK;
    double t0 = MPI_Wtime();
    if (MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) !=
        MPI_SUCCESS)
        return nn_fail("MPI_Allreduce of %zu doubles failed", n);
    d->wait_seconds += MPI_Wtime() - t0;
    return NN_OK;
}

int nn_dist_bcast(nn_dist *d, void *buf, size_t bytes, int root) {
    if (d->size == 1) return NN_OK;
    for (size_t off = 0; off < bytes; off += 1u << 30) {
        int cnt = (int)(bytes - off < (1u << 30) ? bytes - off : (1u << 30));
        if (MPI_Bcast((char *)buf + off, cnt, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            return nn_fail("MPI_Bcast of %zu bytes failed", bytes);
    }
    return NN_OK;
}

int nn_dist_alltoallv(nn_dist *d, const void *send, const int *send_bytes, void *recv,
                      const int *recv_bytes) {
    int *sd = malloc(2 * (size_t)d->size * sizeof(int)), *rd = sd + d->size;
    if (!sd) return nn_fail("out of memory for an exchange between %d ranks", d->size);
    for (int r = 0, so = 0, ro = 0; r < d->size; r++) {
        sd[r] = so, rd[r] = ro;
        so += send_bytes[r], ro += recv_bytes[r];
    }
    double t0 = MPI_Wtime();
    int rc = MPI_Alltoallv(send, send_bytes, sd, MPI_BYTE, recv, recv_bytes, rd, MPI_BYTE,
                           MPI_COMM_WORLD);
    d->wait_seconds += MPI_Wtime() - t0;
    free(sd);
    return rc == MPI_SUCCESS ? NN_OK : nn_fail("MPI_Alltoallv between %d ranks failed", d->size);
}

int nn_dist_check(nn_dist *d, int status) {
    if (d->size == 1) return status;
    int mine = status == NN_OK ? d->size : d->rank, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == d->size) return NN_OK;
    /* The first failed rank's message and status (a usage error stays one). */
    char msg[2048 + sizeof(int)];
    if (d->rank == first) {
        memcpy(msg, &status, sizeof status);
        snprintf(msg + sizeof(int), 2048, "rank %d: %s", d->rank, nn_errmsg());
    }
    MPI_Bcast(msg, sizeof msg, MPI_CHAR, first, MPI_COMM_WORLD);
    msg[sizeof msg - 1] = 0;
    int st;
    memcpy(&st, msg, sizeof st);
    nn_fail("%s", msg + sizeof(int));
    return st < 0 ? st : NN_ERR;
}

void nn_dist_heartbeat(nn_dist *d, unsigned long long step) {
    dist_impl *im = d->impl;
    if (im && im->beat)
        __atomic_store_n(&im->beat[(size_t)d->local_rank * 8], step, __ATOMIC_RELEASE);
}

int nn_dist_behind(const nn_dist *d, unsigned long long step, char *buf, size_t n) {
    const dist_impl *im = d->impl;
    if (n) buf[0] = 0;
    if (!im || !im->beat) return -1;
    int count = 0;
    size_t o = 0;
    for (int q = 0; q < d->local_size; q++) {
        if (__atomic_load_n(&im->beat[(size_t)q * 8], __ATOMIC_ACQUIRE) >= step) continue;
        if (o < n) o += (size_t)snprintf(buf + o, n - o, "%s%d", count ? ", " : "", im->world_of[q]);
        count++;
    }
    return count;
}

int nn_dist_stopped(const nn_dist *d, char *buf, size_t n) {
    const dist_impl *im = d->impl;
    if (n) buf[0] = 0;
    if (!im || !im->procs) return -1;
    int count = 0;
    size_t o = 0;
    for (int q = 0; q < d->local_size; q++) {
        if (q == d->local_rank) continue;
        /* /proc/PID/stat: "pid (comm) S ...": the state follows the last ')'. */
        char path[64], st[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", im->procs[q][1]);
        FILE *f = fopen(path, "r");
        size_t got = f ? fread(st, 1, sizeof st - 1, f) : 0;
        if (f) fclose(f);
        st[got] = 0;
        const char *rp = strrchr(st, ')');
        if (!rp || rp[1] != ' ' || (rp[2] != 'T' && rp[2] != 't')) continue;
        if (o < n)
            o += (size_t)snprintf(buf + o, n - o, "%s%ld (pid %ld)", count ? ", " : "",
                                  im->procs[q][0], im->procs[q][1]);
        count++;
    }
    return count;
}

int nn_dist_barrier(nn_dist *d) {
    if (d->size == 1) return NN_OK;
    return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? NN_OK : nn_fail("MPI_Barrier failed");
}

void nn_dist_abort(nn_dist *d, int code) {
    (void)d;
    MPI_Abort(MPI_COMM_WORLD, code);
}
