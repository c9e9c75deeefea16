# cython: language_level=3
# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: freethreading_compatible=True
"""Compiled kernels of smoothl1 (the module ``smoothl1._smoothl1``).

One compiled unit made of files by concern (src/kernels/, included below in this order), so
that inlining, speed and bits are those of one file. How it is built, in the order it is read:

1. Parameters and point functions (kernels/losses/<name>.pxi, one file a loss). Each formula
   of docs/contract.md (sections 1, 10, 16) is written once, as an inline function of one
   difference ``d = input - target`` in double precision; float32 data is widened on load, so
   float32 results are rounded once, when they are stored. Each loss has a parameter struct
   whose fields are computed once per call (``set_<loss>``) and its per-element twin (docs/
   contract.md section 13). The dispatch to them is generated from the table of losses
   (src/smoothl1/_core/losses.py) by tools/generate_kernels.py: kernels/loss_points.pxi holds the
   fused type ``LossParams`` of every loss's structs, which lets every loop below be compiled
   once per loss with no runtime switch, and ``element_params``, ``loss_point``,
   ``grad_point`` and ``hess_point`` (second derivatives, section 11: "exact", "irls"; "one"
   is the constant 1). Modes, weightings and curvature kinds are compile-time tags too
   (kernels/modes.pxi).
2. The block loop (kernels/block_loop.pxi). ``block_pass`` makes one pass over a block of at
   most ``CHUNK`` elements and, by compile-time flags, sums losses (or weights), stores
   losses, stores gradients. Sums go into ``LANES`` independent lanes, so the loop vectorises,
   and chunk sums are combined by ``PairwiseSum`` (a binary counter, kernels/summation.pxi),
   so the rounding error grows with log(n), not n. ``run_mode`` instantiates the loop for
   each mode; ``run_segment`` walks a 1-D strided run (the C API's entry) block by block.
   Gradient and curvature (``STORE_GRAD | STORE_HESS_*``), elementwise with nothing summed,
   have their own plain loop, ``grad_hess_loop`` (kernels/grad_hess.pxi). Three sums have a
   loop of their own that adds the same values in the same order, bit for bit
   (kernels/fast_paths.pxi): boxes summed along their 4 coordinates (``box_pass``, each box's
   sum straight from its elements, an ``(N, 1)`` weight read once a box), interleaved columns
   summed along axis 0 (``column_pass``), and a parameter that repeats every ``LANES``
   elements, a per-coordinate beta of boxes (``lane_chunk_pass``, its values derived once a
   chunk, not once an element).
3. Plans and items (kernels/plans.pxi). An N-d call becomes a ``Plan``: dimensions in memory
   order (the kept ones before the reduced ones for a reduction along axes, so each group's
   elements are a range of the flat index), size-1 dimensions dropped, contiguous ones merged
   (a C or Fortran array is one run), broadcast operands given zero steps. Blocks follow the
   chunk grid of each group; an operand that is not one run over a block (a per-row target of
   boxes, say) is gathered into a chunk buffer, outputs scattered back. The work is cut into
   items of whole groups or ``ITEM_SIZE`` ranges of one; threads claim items one at a time
   (src/smoothl1_pool.h, kernels/pool.pxi), and each group's range sums are combined
   pairwise in order, so every result is bit-for-bit the same whatever the number of threads.
   Which compiled instance runs a call (``execute_loss``, the pool's ``run_task_item``) is
   generated from the table of losses too (kernels/loss_runs.pxi).
4. The C API (kernels/capi.pxi): ``cdef api`` functions over pointers, lengths and element
   strides, for Cython and C callers (declared in ``smoothl1/kernels.pxd``), with one
   parameter or (``_params``) a pointer and stride of per-element ones. They call the same
   segment loop through each loss's pass functions; the functions themselves are generated
   from one table (``tools/generate_kernels.py``, kernels/capi_functions.pxi).
5. The Python entry ``compute`` (kernels/python_entry.pxi): takes arrays already validated by
   ``smoothl1._core.validation``, builds a plan and runs it (``run_loss``, ``run_grad_hess``,
   kernels/run_calls.pxi) with the GIL released (for plans of at least
   ``GIL_RELEASE_MIN_SIZE`` elements). The small helpers of the Python side (new arrays and
   scalars, floating-point flags, quiet casts, alignment) are in kernels/python_helpers.pxi.
6. The public functions (kernels/entry_points.pxi, generated from the table of losses) and
   their small calls (kernels/small_calls.pxi): a common call is checked in compiled code
   and runs ``run_loss`` / ``run_grad_hess`` directly; every other call goes to the general
   path (``smoothl1._core.api``), which validates it and calls ``compute``
   (docs/contract.md section 21).

The generated files (kernels/loss_points.pxi, loss_runs.pxi, capi_functions.pxi, entry_points.pxi) are build
products, rewritten by setup.py from their .tp templates; they are not committed.
"""

from libc.math cimport copysign, fabs, frexp, isinf, sqrt, NAN
from cpython.ref cimport PyObject
from libc.stdlib cimport malloc, free
from libc.stdint cimport int64_t

cimport numpy as cnp

cnp.import_array()

ctypedef fused floating:
    float
    double

include "kernels/platform.pxi"
include "kernels/modes.pxi"
include "kernels/summation.pxi"
include "kernels/loss_points.pxi"   # the losses' point functions and their dispatch
include "kernels/block_loop.pxi"
include "kernels/fast_paths.pxi"
include "kernels/grad_hess.pxi"
include "kernels/plans.pxi"
include "kernels/pool.pxi"
include "kernels/capi.pxi"
include "kernels/loss_runs.pxi"     # loss codes, execute_loss, run_task_item, pass functions
include "kernels/capi_functions.pxi"
include "kernels/python_helpers.pxi"
include "kernels/run_calls.pxi"
include "kernels/python_entry.pxi"
include "kernels/small_calls.pxi"
include "kernels/entry_points.pxi"  # the public functions of every loss
