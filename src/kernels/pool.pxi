# The glue to the thread pool (src/smoothl1_pool.h): a plan's items run by the pool's threads.

cdef extern from "smoothl1_pool.h":
    ctypedef void (*smoothl1_item_fn)(void* context, Py_ssize_t item) noexcept nogil
    int SMOOTHL1_MAX_THREADS
    void smoothl1_pool_init()
    void smoothl1_pool_run(smoothl1_item_fn fn, void* context, Py_ssize_t n_items,
                           int n_threads) noexcept nogil
    int smoothl1_pool_get_limit() noexcept nogil
    void smoothl1_pool_set_limit(int limit) noexcept nogil
    void smoothl1_pool_statistics(int* helpers, int64_t* helper_items) noexcept nogil

smoothl1_pool_init()

# Which LossParams instance a PlanTask carries (PARAMS_* of loss_runs.pxi, generated with
# params_kind and run_task_item from the table of losses): the pool calls one C function for
# all of them.

ctypedef struct PlanTask:
    # One threaded run_plan call, as the pool's threads see it: run_item's arguments, and which
    # of its compiled instances to call.
    const void* params
    int params_kind
    bint is_double
    const Plan* plan
    int mode
    double grad_scale
    double weight_norm


cdef inline void run_task_item_with(const LossParams* p, const PlanTask* task,
                                    Py_ssize_t item) noexcept nogil:
    if task.is_double:
        run_item(p, task.plan, task.mode, task.grad_scale, task.weight_norm, item, <double>0)
    else:
        run_item(p, task.plan, task.mode, task.grad_scale, task.weight_norm, item, <float>0)


cdef void run_plan(const LossParams* p, const Plan* plan, int mode, double grad_scale,
                   double weight_norm, int n_threads, floating dtype_tag) noexcept nogil:
    # Items are fixed by the plan, and each writes its own partial sums: the results are the
    # same for any n_threads, whichever thread ran which item. Threads claim one item at a
    # time: with few items, blocks would leave one thread a whole item more, and a thread the
    # OS does not run would hold up its whole block.
    cdef Py_ssize_t n_items = plan.n_items, item
    cdef PlanTask task
    if n_threads > 1:
        task.params = p
        task.params_kind = params_kind(p)
        task.is_double = floating is double
        task.plan = plan
        task.mode = mode
        task.grad_scale = grad_scale
        task.weight_norm = weight_norm
        smoothl1_pool_run(run_task_item, &task, n_items, n_threads)
    else:
        for item in range(n_items):
            run_item(p, plan, mode, grad_scale, weight_norm, item, dtype_tag)

