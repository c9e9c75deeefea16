/* smoothl1_pool.h: the thread pool of smoothl1's kernels (included by src/_smoothl1.pyx).

   One call: smoothl1_pool_run(fn, context, n_items, n_threads) runs fn(context, item) for every
   item in [0, n_items) and returns when all are done. Why not an OpenMP parallel region: its
   fork-join waits at the barrier for every thread of the team, also for one the OS has not
   scheduled yet; on a machine whose cores are busy that made the default n_threads 3-4 times
   slower than one thread. GNU libgomp also hangs in a child forked after threaded calls.
   Here (docs/contract.md sections 8 and 15):

   1. The caller works. It publishes the job, wakes helpers, then claims items itself from an
      atomic counter, like any helper. A helper that wakes late finds no item left and leaves;
      the caller waits only for items that a helper has claimed (so is running), never for a
      helper that has not started. Which thread runs an item does not change its result: the
      caller combines item results in item order, so results are the same for any n_threads.
   2. Jobs live in a few static slots, never on a caller's stack. A slot's state word holds a
      generation and the next item to claim; a helper claims by compare-and-swap only while the
      generation is the one it joined, so a helper that arrives after the job ended touches
      nothing of it. (A wrap of the 31-bit generation while one helper stays descheduled
      between two of its instructions is the only way to confuse it: 2**31 jobs on one slot.)
      When every slot is in use, the caller runs its items alone.
   3. Helpers start lazily (first threaded call), detached, at most SMOOTHL1_MAX_THREADS - 1,
      and only as many as the largest single request needs: several Python threads calling at
      once share them, so the total stays bounded. Between calls they sleep on a condition
      variable (no spinning). Process exit does not wait for them.
   4. After fork(), the child's pool is empty (a pthread_atfork child handler re-initialises
      the lock and condition variables and forgets the parent's helpers); its first threaded
      call starts new ones.
   5. Items run in the caller's floating-point environment (rounding mode, flush-to-zero and
      denormals-are-zero), whichever thread runs them: the caller captures it when it
      publishes a job, a helper takes it on before the job's items and puts its own back
      after. Else results on subnormal numbers, or under a non-default rounding, would depend
      on n_threads (a library built with fast-math sets FTZ/DAZ on the thread that loads it).

   POSIX threads with GCC/Clang __atomic builtins, or Windows threads (SRW lock, condition
   variables, Interlocked*). tests/pool/stress.c runs both, the Windows side under Wine. */
#ifndef SMOOTHL1_POOL_H
#define SMOOTHL1_POOL_H

#include <stdint.h>

/* The most threads one call uses (the caller included); larger n_threads are clamped. */
#define SMOOTHL1_MAX_THREADS 64
/* Jobs that can share the helpers at once; further concurrent calls run on their caller. */
#define SMOOTHL1_POOL_SLOTS 8

typedef void (*smoothl1_item_fn)(void *context, Py_ssize_t item);

/* ----------------------------------------------------------------------------------------- */
/* The platform layer: lock, condition variable, detached thread, atomics on int64_t.         */
/* ----------------------------------------------------------------------------------------- */
#ifdef _WIN32
#include <windows.h>
typedef SRWLOCK smoothl1_lock;
typedef CONDITION_VARIABLE smoothl1_cond;
static void smoothl1_lock_init(smoothl1_lock *lock) { InitializeSRWLock(lock); }
static void smoothl1_lock_acquire(smoothl1_lock *lock) { AcquireSRWLockExclusive(lock); }
static void smoothl1_lock_release(smoothl1_lock *lock) { ReleaseSRWLockExclusive(lock); }
static void smoothl1_cond_init(smoothl1_cond *cond) { InitializeConditionVariable(cond); }
static void smoothl1_cond_wait(smoothl1_cond *cond, smoothl1_lock *lock) {
    SleepConditionVariableSRW(cond, lock, INFINITE, 0);
}
static void smoothl1_cond_signal(smoothl1_cond *cond) { WakeConditionVariable(cond); }
static void smoothl1_cond_broadcast(smoothl1_cond *cond) { WakeAllConditionVariable(cond); }
static DWORD WINAPI smoothl1_helper_entry(LPVOID unused);
static int smoothl1_thread_start(void) {
    HANDLE thread = CreateThread(NULL, 0, smoothl1_helper_entry, NULL, 0, NULL);
    if (thread == NULL) return -1;
    CloseHandle(thread);   /* detached */
    return 0;
}
/* Interlocked operations are full barriers: stronger than the orderings asked for below. */
static int64_t smoothl1_load(volatile int64_t *p) {
    return InterlockedCompareExchange64((volatile LONG64 *)p, 0, 0);
}
static void smoothl1_store(volatile int64_t *p, int64_t v) {
    InterlockedExchange64((volatile LONG64 *)p, v);
}
static int smoothl1_cas(volatile int64_t *p, int64_t expected, int64_t desired) {
    return InterlockedCompareExchange64((volatile LONG64 *)p, desired, expected) == expected;
}
static int64_t smoothl1_add(volatile int64_t *p, int64_t v) {   /* returns the new value */
    return InterlockedAdd64((volatile LONG64 *)p, v);
}
static void smoothl1_pause(void) { YieldProcessor(); }
static void smoothl1_at_fork_register(void) {}   /* no fork on Windows */
#else
#include <pthread.h>
typedef pthread_mutex_t smoothl1_lock;
typedef pthread_cond_t smoothl1_cond;
static void smoothl1_lock_init(smoothl1_lock *lock) { pthread_mutex_init(lock, NULL); }
static void smoothl1_lock_acquire(smoothl1_lock *lock) { pthread_mutex_lock(lock); }
static void smoothl1_lock_release(smoothl1_lock *lock) { pthread_mutex_unlock(lock); }
static void smoothl1_cond_init(smoothl1_cond *cond) { pthread_cond_init(cond, NULL); }
static void smoothl1_cond_wait(smoothl1_cond *cond, smoothl1_lock *lock) {
    pthread_cond_wait(cond, lock);
}
static void smoothl1_cond_signal(smoothl1_cond *cond) { pthread_cond_signal(cond); }
static void smoothl1_cond_broadcast(smoothl1_cond *cond) { pthread_cond_broadcast(cond); }
static void *smoothl1_helper_entry(void *unused);
static int smoothl1_thread_start(void) {
    pthread_t thread;
    pthread_attr_t attributes;
    int error;
    if (pthread_attr_init(&attributes) != 0) return -1;
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    error = pthread_create(&thread, &attributes, smoothl1_helper_entry, NULL);
    pthread_attr_destroy(&attributes);
    return error == 0 ? 0 : -1;
}
static int64_t smoothl1_load(volatile int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void smoothl1_store(volatile int64_t *p, int64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static int smoothl1_cas(volatile int64_t *p, int64_t expected, int64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}
static int64_t smoothl1_add(volatile int64_t *p, int64_t v) {
    return __atomic_add_fetch(p, v, __ATOMIC_ACQ_REL);
}
#if defined(__x86_64__) || defined(__i386__)
static void smoothl1_pause(void) { __builtin_ia32_pause(); }
#else
static void smoothl1_pause(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
#endif
static void smoothl1_at_fork_child(void);
static void smoothl1_at_fork_prepare(void);
static void smoothl1_at_fork_parent(void);
static void smoothl1_at_fork_register(void) {
    pthread_atfork(smoothl1_at_fork_prepare, smoothl1_at_fork_parent, smoothl1_at_fork_child);
}
#endif

/* The floating-point environment, per thread. On x86-64 the MXCSR holds all the kernels' SSE
   and AVX arithmetic obeys: rounding, FTZ, DAZ (and exception masks and flags; smoothl1 restores
   the caller's flags itself, docs/contract.md section 5). The x87 control word is left alone:
   the kernels do no x87 arithmetic. Elsewhere fenv_t: on AArch64 (glibc, macOS) it holds the
   FPCR, with the rounding mode and FZ, and the FPSR; on other targets what the C library
   calls the environment, which includes the rounding mode. */
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
typedef unsigned int smoothl1_fp_env;
static void smoothl1_fp_env_get(smoothl1_fp_env *env) { *env = _mm_getcsr(); }
static void smoothl1_fp_env_set(const smoothl1_fp_env *env) { _mm_setcsr(*env); }
#else
#include <fenv.h>
typedef fenv_t smoothl1_fp_env;
static void smoothl1_fp_env_get(smoothl1_fp_env *env) { fegetenv(env); }
static void smoothl1_fp_env_set(const smoothl1_fp_env *env) { fesetenv(env); }
#endif

/* ----------------------------------------------------------------------------------------- */
/* The pool                                                                                  */
/* ----------------------------------------------------------------------------------------- */

#define SMOOTHL1_ITEM_BITS 32
#define SMOOTHL1_ITEM_MASK ((((int64_t)1) << SMOOTHL1_ITEM_BITS) - 1)
/* 31 bits, so that the state word is never negative */
#define SMOOTHL1_GENERATION_MASK ((((int64_t)1) << 31) - 1)
/* Pauses the caller spins for the last claimed items before it sleeps: 28 us on the development
   machine's AMD EPYC (up to about 50 us on Intel CPUs, whose pause is slower), the time of a few
   items of 16384 elements. A helper's item rarely takes longer unless the OS took its core
   away, and then sleeping is right. Helpers never spin: they sleep as soon as no job wants them. */
#define SMOOTHL1_WAIT_SPINS 1000
/* A hook between a job's fields and its publication, empty in the library: tests/pool/stress.c
   sleeps there to widen the window in which a late helper of the slot's previous job looks. */
#ifndef SMOOTHL1_POOL_WHILE_PUBLISHING
#define SMOOTHL1_POOL_WHILE_PUBLISHING() ((void)0)
#endif

typedef struct {
    /* generation << 32 | next item to claim; the only word helpers touch without the lock */
    volatile int64_t state;
    volatile int64_t done;       /* items finished (their fn returned) */
    /* set by the caller before the state word is published, read-only while items remain */
    smoothl1_item_fn fn;
    void *context;
    smoothl1_fp_env fp_env;      /* the caller's, which every item runs in */
    volatile int64_t n_items;    /* atomic: a late helper may read it as the next job sets it */
    /* under the lock */
    int in_use;
    int helpers_wanted;          /* helpers the caller asked for: n_threads - 1 */
    int helpers_joined;
} smoothl1_slot;

static struct {
    smoothl1_lock lock;
    smoothl1_cond work;          /* helpers sleep here between jobs */
    smoothl1_cond finished;      /* callers sleep here for claimed items */
    int initialised;
    int helpers;                 /* helpers started (alive, in this process) */
    int idle;                    /* helpers asleep on `work` */
    volatile int64_t helper_items;   /* items run by helpers, ever (for tests and benchmarks) */
    smoothl1_slot slots[SMOOTHL1_POOL_SLOTS];
} smoothl1_pool;

/* The thread limit used when n_threads is None (threadpoolctl and the environment set it). */
static volatile int64_t smoothl1_thread_limit = 1;

static int smoothl1_pool_get_limit(void) { return (int)smoothl1_load(&smoothl1_thread_limit); }

static void smoothl1_pool_set_limit(int limit) {
    if (limit < 1) limit = 1;
    if (limit > SMOOTHL1_MAX_THREADS) limit = SMOOTHL1_MAX_THREADS;
    smoothl1_store(&smoothl1_thread_limit, limit);
}

/* Claims the next item of `slot` in `generation`; returns it, or -1 when none is left or the
   slot has moved on to another job. */
static int64_t smoothl1_claim(smoothl1_slot *slot, int64_t generation) {
    int64_t state = smoothl1_load(&slot->state);
    for (;;) {
        int64_t item = state & SMOOTHL1_ITEM_MASK;
        if ((state >> SMOOTHL1_ITEM_BITS) != generation || item >= smoothl1_load(&slot->n_items))
            return -1;
        if (smoothl1_cas(&slot->state, state, state + 1)) return item;
        state = smoothl1_load(&slot->state);
    }
}

/* Runs items of the job until none is left. A helper (is_helper) wakes the caller after the
   job's last item; after its last `done` increment it no longer reads the job's fields. */
static void smoothl1_work(smoothl1_slot *slot, int64_t generation, int is_helper) {
    int64_t item;
    while ((item = smoothl1_claim(slot, generation)) >= 0) {
        int64_t n_items = slot->n_items;   /* this job's: it cannot end before this item */
        slot->fn(slot->context, (Py_ssize_t)item);
        if (is_helper) smoothl1_add(&smoothl1_pool.helper_items, 1);
        if (smoothl1_add(&slot->done, 1) == n_items && is_helper) {
            smoothl1_lock_acquire(&smoothl1_pool.lock);
            smoothl1_cond_broadcast(&smoothl1_pool.finished);
            smoothl1_lock_release(&smoothl1_pool.lock);
        }
    }
}

/* A slot whose job has items left and wants another helper, or NULL. Under the lock. */
static smoothl1_slot *smoothl1_job_wanting_help(void) {
    int k;
    for (k = 0; k < SMOOTHL1_POOL_SLOTS; k++) {
        smoothl1_slot *slot = &smoothl1_pool.slots[k];
        int64_t next = smoothl1_load(&slot->state) & SMOOTHL1_ITEM_MASK;
        if (slot->in_use && slot->helpers_joined < slot->helpers_wanted
                && next < smoothl1_load(&slot->n_items))
            return slot;
    }
    return NULL;
}

#ifdef _WIN32
static DWORD WINAPI smoothl1_helper_entry(LPVOID unused)
#else
static void *smoothl1_helper_entry(void *unused)
#endif
{
    smoothl1_fp_env own_fp_env;
    (void)unused;
    smoothl1_fp_env_get(&own_fp_env);
    smoothl1_lock_acquire(&smoothl1_pool.lock);
    for (;;) {
        smoothl1_slot *slot = smoothl1_job_wanting_help();
        if (slot != NULL) {
            /* Under the lock a slot's generation and fields are those of one job: a caller
               changes them only while it holds the lock. */
            int64_t generation = smoothl1_load(&slot->state) >> SMOOTHL1_ITEM_BITS;
            smoothl1_fp_env callers_fp_env = slot->fp_env;
            slot->helpers_joined++;
            smoothl1_lock_release(&smoothl1_pool.lock);
            smoothl1_fp_env_set(&callers_fp_env);
            smoothl1_work(slot, generation, 1);
            smoothl1_fp_env_set(&own_fp_env);
            smoothl1_lock_acquire(&smoothl1_pool.lock);
            continue;
        }
        smoothl1_pool.idle++;
        smoothl1_cond_wait(&smoothl1_pool.work, &smoothl1_pool.lock);
        smoothl1_pool.idle--;
    }
    return 0;   /* not reached: helpers live as long as the process */
}

static void smoothl1_pool_reset(void) {
    int k;
    smoothl1_lock_init(&smoothl1_pool.lock);
    smoothl1_cond_init(&smoothl1_pool.work);
    smoothl1_cond_init(&smoothl1_pool.finished);
    smoothl1_pool.helpers = 0;
    smoothl1_pool.idle = 0;
    smoothl1_store(&smoothl1_pool.helper_items, 0);
    for (k = 0; k < SMOOTHL1_POOL_SLOTS; k++) {
        smoothl1_slot *slot = &smoothl1_pool.slots[k];
        /* a new generation: nothing of a job that was running in the parent stays claimable */
        int64_t generation = ((slot->state >> SMOOTHL1_ITEM_BITS) + 1) & SMOOTHL1_GENERATION_MASK;
        smoothl1_store(&slot->state, generation << SMOOTHL1_ITEM_BITS);
        slot->in_use = 0;
        slot->helpers_wanted = 0;
        slot->helpers_joined = 0;
    }
}

#ifndef _WIN32
/* fork() copies only the calling thread: the child has none of the helpers, and the lock may
   have been held by one of them. The parent holds the lock across fork() so that the pool's
   fields are consistent in the child, which then starts afresh. */
static void smoothl1_at_fork_prepare(void) {
    if (smoothl1_pool.initialised) smoothl1_lock_acquire(&smoothl1_pool.lock);
}
static void smoothl1_at_fork_parent(void) {
    if (smoothl1_pool.initialised) smoothl1_lock_release(&smoothl1_pool.lock);
}
static void smoothl1_at_fork_child(void) {
    if (smoothl1_pool.initialised) smoothl1_pool_reset();
}
#endif

/* One-time set-up, from the module's initialisation (the GIL serialises it). */
static void smoothl1_pool_init(void) {
    if (smoothl1_pool.initialised) return;
    smoothl1_pool_reset();
    smoothl1_at_fork_register();
    smoothl1_pool.initialised = 1;
}

/* Runs fn(context, item) for item in [0, n_items) on the calling thread and up to
   n_threads - 1 helpers (clamped to n_items and SMOOTHL1_MAX_THREADS); returns when all items
   are done. Never fails: with no slot free, or no helper startable, the caller runs alone. */
static void smoothl1_pool_run(smoothl1_item_fn fn, void *context, Py_ssize_t n_items,
                              int n_threads) {
    smoothl1_slot *slot = NULL;
    int64_t generation = 0, spins;
    int k, wake;
    if (n_threads > SMOOTHL1_MAX_THREADS) n_threads = SMOOTHL1_MAX_THREADS;
    if (n_threads > n_items) n_threads = (int)n_items;
    if (n_threads > 1 && (int64_t)n_items <= SMOOTHL1_ITEM_MASK) {
        smoothl1_lock_acquire(&smoothl1_pool.lock);
        for (k = 0; k < SMOOTHL1_POOL_SLOTS && slot == NULL; k++)
            if (!smoothl1_pool.slots[k].in_use) slot = &smoothl1_pool.slots[k];
        if (slot != NULL) {
            generation = ((smoothl1_load(&slot->state) >> SMOOTHL1_ITEM_BITS) + 1)
                         & SMOOTHL1_GENERATION_MASK;
            /* Close the slot to the previous job's helpers before changing its fields: a helper
               that read the old state word, all items claimed, may read n_items next. Were the
               old state word still there when it reads the new job's larger n_items, its
               compare-and-swap would claim an item of no job, run it on the new job's context
               and count it done twice: the caller would then wait for ever (it did, in CI).
               The closed word has the new generation and an item no n_items exceeds. */
            smoothl1_store(&slot->state, (generation << SMOOTHL1_ITEM_BITS) | SMOOTHL1_ITEM_MASK);
            slot->in_use = 1;
            slot->fn = fn;
            slot->context = context;
            smoothl1_fp_env_get(&slot->fp_env);
            smoothl1_store(&slot->n_items, n_items);
            slot->helpers_wanted = n_threads - 1;
            slot->helpers_joined = 0;
            smoothl1_store(&slot->done, 0);
            SMOOTHL1_POOL_WHILE_PUBLISHING();
            smoothl1_store(&slot->state, generation << SMOOTHL1_ITEM_BITS);   /* publishes */
            /* Start helpers up to this request's need; a failure to start one is not an
               error (fewer helpers, same results). */
            while (smoothl1_pool.helpers < n_threads - 1 && smoothl1_thread_start() == 0)
                smoothl1_pool.helpers++;
            wake = smoothl1_pool.idle < n_threads - 1 ? smoothl1_pool.idle : n_threads - 1;
            for (k = 0; k < wake; k++) smoothl1_cond_signal(&smoothl1_pool.work);
        }
        smoothl1_lock_release(&smoothl1_pool.lock);
    }
    if (slot == NULL) {
        Py_ssize_t item;
        for (item = 0; item < n_items; item++) fn(context, item);
        return;
    }
    smoothl1_work(slot, generation, 0);
    /* Every item is claimed; wait for those helpers are still running. */
    for (spins = 0; smoothl1_load(&slot->done) != n_items && spins < SMOOTHL1_WAIT_SPINS; spins++)
        smoothl1_pause();
    smoothl1_lock_acquire(&smoothl1_pool.lock);
    while (smoothl1_load(&slot->done) != n_items)
        smoothl1_cond_wait(&smoothl1_pool.finished, &smoothl1_pool.lock);
    slot->in_use = 0;
    smoothl1_lock_release(&smoothl1_pool.lock);
}

/* Helpers started in this process (none before its first threaded call), and items they ran:
   for tests and benchmarks, which check that helpers are bounded and really do share work. */
static void smoothl1_pool_statistics(int *helpers, int64_t *helper_items) {
    smoothl1_lock_acquire(&smoothl1_pool.lock);
    *helpers = smoothl1_pool.helpers;
    smoothl1_lock_release(&smoothl1_pool.lock);
    *helper_items = smoothl1_load(&smoothl1_pool.helper_items);
}

#endif
