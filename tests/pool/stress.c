/* A stress test of the kernels' thread pool (src/smoothl1_pool.h) on its own, built and run by
   tests/test_threads.py: 16 caller threads run jobs at once (more than the pool's job slots,
   with varying item and thread counts); every item of every job must run exactly once, and the
   pool's helpers stay bounded by the largest request. Then forked children, forked while the
   pool has helpers, run jobs of their own. Exit status 0 and "ok" on success; a hang is a
   failure too (the test's timeout).
   It can also be built with -fsanitize=thread (TSAN_OPTIONS=die_after_fork=0 for the fork part,
   which ThreadSanitizer does not follow). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

typedef ptrdiff_t Py_ssize_t;   /* the pool is written for a Python extension */
/* Sleep while a job is being set up in its slot (under the pool's lock): a helper of the slot's
   previous job that looks at the slot then must not claim anything. Before the fix that closes
   the slot first, this made the program hang (a late helper counted an item of no job done). */
#define SMOOTHL1_POOL_WHILE_PUBLISHING() usleep(20)
#include "smoothl1_pool.h"

#define CALLERS 16
#define ROUNDS 300
#define MOST_THREADS 9

typedef struct {
    int *runs;          /* runs[item]: how many times the item ran */
} job_t;

static void run_one(void *context, Py_ssize_t item) {
    job_t *job = context;
    volatile double work = 0;
    int i;
    for (i = 0; i < 200; i++) work += i;
    __atomic_add_fetch(&job->runs[item], 1, __ATOMIC_RELAXED);
}

static void *caller(void *argument) {
    long seed = (long)argument;
    int round;
    for (round = 0; round < ROUNDS; round++) {
        Py_ssize_t n = 1 + (seed * 7919 + round * 104729) % 97, item;
        int threads = 1 + (int)((seed + round) % MOST_THREADS);
        job_t job;
        job.runs = calloc((size_t)n, sizeof(int));
        if (job.runs == NULL) abort();
        smoothl1_pool_run(run_one, &job, n, threads);
        for (item = 0; item < n; item++) {
            if (job.runs[item] != 1) {
                fprintf(stderr, "item %ld of %ld ran %d times\n", (long)item, (long)n,
                        job.runs[item]);
                abort();
            }
        }
        free(job.runs);
    }
    return NULL;
}

static int run_callers(int count) {
    pthread_t threads[CALLERS];
    int helpers, k;
    int64_t helper_items;
    for (k = 0; k < count; k++)
        if (pthread_create(&threads[k], NULL, caller, (void *)(long)k) != 0) return 1;
    for (k = 0; k < count; k++) pthread_join(threads[k], NULL);
    smoothl1_pool_statistics(&helpers, &helper_items);
    if (helpers < 1 || helpers > MOST_THREADS - 1) {
        fprintf(stderr, "%d helpers, expected 1 to %d\n", helpers, MOST_THREADS - 1);
        return 1;
    }
    return 0;
}

int main(void) {
    int k, status;
    smoothl1_pool_init();
    if (run_callers(CALLERS) != 0) return 1;
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
    printf("ok\n");
    return 0;
}
