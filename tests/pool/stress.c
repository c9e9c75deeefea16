/* A stress test of the kernels' thread pool (src/smoothl1_pool.h) on its own, built and run by
   tests/test_threads.py: 16 caller threads run jobs at once (more than the pool's job slots,
   with varying item and thread counts); every item of every job must run exactly once, in its
   caller's floating-point environment (callers switch rounding mode, and on x86-64 FTZ/DAZ,
   from round to round), and the pool's helpers stay bounded by the largest request. Then, on
   POSIX, forked children, forked while the pool has helpers, run jobs of their own. Exit
   status 0 and "ok" on success; a hang is a failure too (the test's timeout).
   The same source builds for Windows (MinGW-w64; the test runs it under Wine): caller threads
   by CreateThread, no fork part.
   It can also be built with -fsanitize=thread (TSAN_OPTIONS=die_after_fork=0 for the fork part,
   which ThreadSanitizer does not follow). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <sys/wait.h>
#include <unistd.h>
#endif

typedef ptrdiff_t Py_ssize_t;   /* the pool is written for a Python extension */
/* Pause while a job is being set up in its slot (under the pool's lock): a helper of the slot's
   previous job that looks at the slot then must not claim anything. Before the fix that closes
   the slot first, this made the program hang (a late helper counted an item of no job done).
   Windows sleeps for a timer tick at least (1-16 ms, hundreds of times too long here): a spin
   of about the same 20 us stands in. */
#ifdef _WIN32
#define SMOOTHL1_POOL_WHILE_PUBLISHING() do { int spin_; for (spin_ = 0; spin_ < 2000; spin_++) \
                                              YieldProcessor(); } while (0)
#else
#define SMOOTHL1_POOL_WHILE_PUBLISHING() usleep(20)
#endif
#include "smoothl1_pool.h"

#define CALLERS 16
#define ROUNDS 300
#define MOST_THREADS 9

/* The floating-point controls a caller sets for a round, and how an item reads them back. On
   x86-64 the MXCSR without its six exception flags (bits 0-5), which the arithmetic of items
   changes; elsewhere the rounding mode (fenv.h). */
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define FLAGS 0x3Fu
#define DAZ 0x0040u
#define FTZ 0x8000u
#define ROUND_DOWN 0x2000u
#define ROUND_UP 0x4000u
#define ROUND_TO_ZERO 0x6000u
static unsigned int fp_controls(void) { return _mm_getcsr() & ~FLAGS; }
static void set_fp_controls(unsigned int controls) {
    _mm_setcsr(controls | (_mm_getcsr() & FLAGS));
}
/* the default environment and three others, FTZ/DAZ on in two of them */
static unsigned int round_fp_controls(unsigned int defaults, int round) {
    static const unsigned int changes[4] = {0, FTZ | DAZ, ROUND_TO_ZERO, ROUND_UP | FTZ | DAZ};
    return (defaults & ~(ROUND_TO_ZERO | FTZ | DAZ)) | changes[round % 4];
}
#else
#include <fenv.h>
static unsigned int fp_controls(void) { return (unsigned int)fegetround(); }
static void set_fp_controls(unsigned int controls) { fesetround((int)controls); }
static unsigned int round_fp_controls(unsigned int defaults, int round) {
    switch (round % 4) {
#ifdef FE_TOWARDZERO
    case 2: return FE_TOWARDZERO;
#endif
#ifdef FE_UPWARD
    case 3: return FE_UPWARD;
#endif
    default: return defaults;
    }
}
#endif

typedef struct {
    volatile int64_t *runs;     /* runs[item]: how many times the item ran */
    unsigned int fp_controls;   /* the caller's, which every item must see */
    volatile int64_t wrong_fp_controls;   /* items that saw others */
} job_t;

static void run_one(void *context, Py_ssize_t item) {
    job_t *job = context;
    volatile double work = 0;
    int i;
    if (fp_controls() != job->fp_controls) smoothl1_add(&job->wrong_fp_controls, 1);
    for (i = 0; i < 200; i++) work += i;
    smoothl1_add(&job->runs[item], 1);
}

static int caller(long seed) {
    unsigned int defaults = fp_controls();
    int round;
    for (round = 0; round < ROUNDS; round++) {
        Py_ssize_t n = 1 + (seed * 7919 + round * 104729) % 97, item;
        int threads = 1 + (int)((seed + round) % MOST_THREADS);
        job_t job;
        job.runs = calloc((size_t)n, sizeof(int64_t));
        if (job.runs == NULL) abort();
        job.wrong_fp_controls = 0;
        set_fp_controls(round_fp_controls(defaults, (int)seed + round));
        job.fp_controls = fp_controls();
        smoothl1_pool_run(run_one, &job, n, threads);
        set_fp_controls(defaults);
        for (item = 0; item < n; item++) {
            if (job.runs[item] != 1) {
                fprintf(stderr, "item %ld of %ld ran %ld times\n", (long)item, (long)n,
                        (long)job.runs[item]);
                abort();
            }
        }
        if (job.wrong_fp_controls != 0) {
            fprintf(stderr, "%ld of %ld items ran outside the caller's floating-point "
                    "environment (%#x)\n", (long)job.wrong_fp_controls, (long)n,
                    job.fp_controls);
            abort();
        }
        free((void *)job.runs);
    }
    return 0;
}

#ifdef _WIN32
static DWORD WINAPI caller_entry(LPVOID argument) { return (DWORD)caller((long)(intptr_t)argument); }

static int start_and_join_callers(int count) {
    HANDLE threads[CALLERS];
    int k;
    for (k = 0; k < count; k++) {
        threads[k] = CreateThread(NULL, 0, caller_entry, (LPVOID)(intptr_t)k, 0, NULL);
        if (threads[k] == NULL) return 1;
    }
    for (k = 0; k < count; k++) {
        WaitForSingleObject(threads[k], INFINITE);
        CloseHandle(threads[k]);
    }
    return 0;
}
#else
static void *caller_entry(void *argument) {
    caller((long)(intptr_t)argument);
    return NULL;
}

static int start_and_join_callers(int count) {
    pthread_t threads[CALLERS];
    int k;
    for (k = 0; k < count; k++)
        if (pthread_create(&threads[k], NULL, caller_entry, (void *)(intptr_t)k) != 0) return 1;
    for (k = 0; k < count; k++) pthread_join(threads[k], NULL);
    return 0;
}
#endif

static int run_callers(int count) {
    int helpers;
    int64_t helper_items;
    if (start_and_join_callers(count) != 0) return 1;
    smoothl1_pool_statistics(&helpers, &helper_items);
    if (helpers < 1 || helpers > MOST_THREADS - 1) {
        fprintf(stderr, "%d helpers, expected 1 to %d\n", helpers, MOST_THREADS - 1);
        return 1;
    }
    if (helper_items == 0) {   /* else the checks above would hold with no pool at all */
        fprintf(stderr, "the helpers ran no item\n");
        return 1;
    }
    return 0;
}

int main(void) {
    smoothl1_pool_init();
    if (run_callers(CALLERS) != 0) return 1;
#ifndef _WIN32
    {
        int k, status;
        for (k = 0; k < 3; k++) {
            pid_t child;
            fflush(stdout);
            child = fork();
            if (child == 0) _exit(run_callers(4));
            if (child < 0 || waitpid(child, &status, 0) != child || status != 0) {
                fprintf(stderr, "forked child %d failed: status %d\n", k, status);
                return 1;
            }
        }
    }
#endif
    printf("ok\n");
    return 0;
}
