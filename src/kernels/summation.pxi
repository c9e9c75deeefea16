# Exact, reproducible summation: LANES interleaved partial sums a chunk, chunk sums added
# pairwise (a binary counter), so the result depends only on the sequence of values.

ctypedef struct PairwiseSum:
    # Pairwise summation as a binary counter: partial[k] holds the sum of a complete, aligned
    # block of 2**k values, so the tree (and the result) depends only on the sequence of values.
    double partial[64]
    Py_ssize_t count


cdef inline void pairwise_init(PairwiseSum* s) noexcept nogil:
    s.count = 0


cdef inline void pairwise_add(PairwiseSum* s, double value) noexcept nogil:
    cdef int level = 0
    cdef Py_ssize_t carry = s.count
    while carry & 1:
        value = s.partial[level] + value
        level += 1
        carry >>= 1
    s.partial[level] = value
    s.count += 1


cdef inline double pairwise_total(const PairwiseSum* s) noexcept nogil:
    cdef double total = 0.0
    cdef bint empty = True
    cdef int level = 0
    while (s.count >> level) != 0:   # up to the highest level in use (one per short group)
        if (s.count >> level) & 1:
            total = s.partial[level] if empty else s.partial[level] + total
            empty = False
        level += 1
    return total


# Compile-time tags. Each loop below is a fused function specialised per mode and weighting
# (as well as per loss and dtype), so that inside one instance every flag is a constant: the
# compiler drops unused work and vectorises the loops, which all run over contiguous blocks

cdef inline double lanes_total(const double* lanes) noexcept nogil:
    # The LANES (8) partial sums, added pairwise in a fixed tree.
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5])
                                                              + (lanes[6] + lanes[7]))


cdef inline double lane_sum(const double* values, Py_ssize_t n) noexcept nogil:
    # Sum of n <= CHUNK values in LANES interleaved partial sums (a SIMD-friendly order that
    # is fixed, so results are reproducible), the tail into lane 0.
    cdef double lanes[LANES]
    cdef double total = 0.0
    cdef Py_ssize_t i, k
    if n < LANES:
        # everything goes to lane 0, and adding the other lanes' +0.0 changes nothing (lane 0
        # starts at +0.0, so it is never -0.0): the same bits, for the short groups of an
        # axis reduction (a box's 4 coordinates)
        for i in range(n):
            total += values[i]
        return total
    for k in range(LANES):
        lanes[k] = 0.0
    i = n - n % LANES
    lanes_add(lanes, values, i)
    while i < n:
        lanes[0] += values[i]
        i += 1
    return lanes_total(lanes)


cdef inline void lanes_add(double* lanes, const double* values, Py_ssize_t n) noexcept nogil:
    # values[i] added to lanes[i % LANES], in order (n a multiple of LANES): lane_sum's loop,
    # which a caller may also run piece by piece over the values of one chunk
    cdef Py_ssize_t row, k
    for row in range(n // LANES):
        for k in range(LANES):
            lanes[k] += values[row * LANES + k]



ctypedef struct ChunkedSum:
    # The sum of a sequence of values, fed in pieces of any length: values are grouped in
    # chunks of CHUNK by their position in the sequence, each chunk is added up by lane_sum
    # and chunk sums pairwise. So the result depends on the sequence alone, not on how it was
    # cut into segments (which depends on the memory layout of the outputs, for example).
    double pending[CHUNK]
    Py_ssize_t n_pending
    PairwiseSum chunks


cdef inline void chunked_init(ChunkedSum* acc) noexcept nogil:
    acc.n_pending = 0
    pairwise_init(&acc.chunks)


cdef inline void chunked_add(ChunkedSum* acc, const double* values, Py_ssize_t n) noexcept nogil:
    # n <= CHUNK - acc.n_pending (callers cut their pieces at chunk boundaries)
    cdef Py_ssize_t i
    if acc.n_pending == 0 and n == CHUNK:
        pairwise_add(&acc.chunks, lane_sum(values, CHUNK))
        return
    for i in range(n):
        acc.pending[acc.n_pending + i] = values[i]
    acc.n_pending += n
    if acc.n_pending == CHUNK:
        pairwise_add(&acc.chunks, lane_sum(acc.pending, CHUNK))
        acc.n_pending = 0


cdef inline double chunked_total(ChunkedSum* acc) noexcept nogil:
    if acc.n_pending:
        pairwise_add(&acc.chunks, lane_sum(acc.pending, acc.n_pending))
        acc.n_pending = 0
    return pairwise_total(&acc.chunks)



cdef inline bint has_exact_inverse(double divisor) noexcept nogil:
    # divisor is a power of two (mantissa exactly 1/2: not inf, NaN, 0 or negative) whose
    # reciprocal does not overflow (2**-1074 has none); the reciprocal of a power of two is
    # then a power of two, exact: x * (1 / divisor) is x / divisor, bit for bit.
    cdef int exponent
    return frexp(divisor, &exponent) == 0.5 and not isinf(1.0 / divisor)
