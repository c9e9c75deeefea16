# The constants of the loops and their compile-time tags: the modes of a pass, the weighting,
# the curvature kinds of grad_hess and the layouts, each a fused type whose instances the
# loops are specialised for.

cdef enum:
    LANES = 8          # independent partial sums: lets the compiler use SIMD for the sum
    CHUNK = 512        # elements summed into the lanes before a chunk sum is formed
    SUB_BLOCK = 64     # a float32 chunk's values summed at a time (block_pass)
    ITEM_SIZE = 16384  # elements per work item: the unit of threading and of determinism
    MAX_DIMS = 64      # NPY_MAXDIMS of NumPy 2 (NumPy 1 allows 32)
    STACK_ITEMS = 64   # item sums kept on the stack; larger calls allocate n / ITEM_SIZE doubles
    MAX_COLUMNS = 16   # the most interleaved groups column_pass sums at once (see there)

# Modes of a pass, combined as bit flags.
cdef enum:
    SUM_LOSS = 1       # return the (weighted) sum of losses
    STORE_LOSS = 2     # write the (weighted) elementwise loss
    STORE_GRAD = 4     # write the (weighted, scaled) elementwise gradient
    SUM_WEIGHT = 8     # return the sum of weights (for the weighted mean)
    STORE_HESS_EXACT = 16  # with STORE_GRAD: write the (weighted) curvature of that kind
    STORE_HESS_IRLS = 32   # (docs/contract.md section 11); grad_hess_loop, not segment_loop,
    STORE_HESS_ONE = 64    # runs these modes
    STORE_HESS = STORE_HESS_EXACT | STORE_HESS_IRLS | STORE_HESS_ONE
    SUM_BOXES = 128    # with SUM_LOSS (and SUM_WEIGHT): the sums of each group of 4 elements
                       # (a box), made by box_pass, instead of each element's value


# choosing to inline anything.
ctypedef struct SumLossTag:
    char unused
ctypedef struct StoreLossTag:
    char unused
ctypedef struct StoreGradTag:
    char unused
ctypedef struct SumLossStoreGradTag:
    char unused
ctypedef struct StoreLossStoreGradTag:
    char unused
ctypedef struct SumWeightTag:
    char unused
ctypedef fused Mode:
    SumLossTag
    StoreLossTag
    StoreGradTag
    SumLossStoreGradTag
    StoreLossStoreGradTag
    SumWeightTag

ctypedef struct UnweightedTag:
    char unused
ctypedef struct WeightedTag:
    char unused
ctypedef struct GroupWeightedTag:   # weighted; the gradient's normaliser comes per element
    char unused                     # (the weight sum of the element's group, section 3)
ctypedef fused Weighting:
    UnweightedTag
    WeightedTag
    GroupWeightedTag
ctypedef fused PlainWeighting:      # the loops that never normalise a gradient per group
    UnweightedTag
    WeightedTag


# The modes that do each thing, for compile-time tests (`if Mode in SummingMode:`) and as the
# mode of the helpers that serve only them (summed_value, store_values, chunk_pass). Cython
# then writes, in each instance of a loop, only the branches its mode runs. (A test of the
# mode's flags at run time is a constant in each instance too, but only to the C compiler,
# after Cython has written every branch of every instance.) Cython also analyses every
# combination of a function's fused types, called or not: a helper's fused types are those
# of the instances that call it, no wider (so is PlainWeighting, below).
ctypedef fused SummingMode:       # SUM_LOSS or SUM_WEIGHT
    SumLossTag
    SumLossStoreGradTag
    SumWeightTag
ctypedef fused StoringMode:       # STORE_LOSS or STORE_GRAD
    StoreLossTag
    StoreGradTag
    SumLossStoreGradTag
    StoreLossStoreGradTag
ctypedef fused LossStoringMode:   # STORE_LOSS
    StoreLossTag
    StoreLossStoreGradTag
ctypedef fused GradStoringMode:   # STORE_GRAD
    StoreGradTag
    SumLossStoreGradTag
    StoreLossStoreGradTag


cdef inline bint is_weighted(const Weighting* tag) noexcept nogil:
    if Weighting is UnweightedTag:
        return False
    else:
        return True



# Curvature kinds (docs/contract.md section 11), as compile-time tags like the modes above.
ctypedef struct ExactCurvatureTag:   # the true second derivative
    char unused
ctypedef struct IrlsCurvatureTag:    # grad / d, the majorize-minimize curvature
    char unused
ctypedef struct UnitCurvatureTag:    # 1 everywhere
    char unused
ctypedef fused Curvature:
    ExactCurvatureTag
    IrlsCurvatureTag
    UnitCurvatureTag



ctypedef struct ContiguousTag:   # grad_hess_loop's layouts: every step is 1, or not
    char unused
ctypedef struct StridedTag:
    char unused
ctypedef fused Layout:
    ContiguousTag
    StridedTag

