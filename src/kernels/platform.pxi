# What the kernels take from the platform: the CPU's SIMD features (for smoothl1._core.dispatch),
# the floating-point status flags (saved and restored around every call, docs/contract.md
# section 5), and SMOOTHL1_ALWAYS_INLINE for the point functions written in C (losses/).

cdef extern from *:
    """
    #include <fenv.h>
    #include <math.h>
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int smoothl1_cpu_has_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") != 0;
    }
    /* The x86-64-v4 subset the AVX-512 build is compiled for; like "avx2", these also check
       that the OS saves the wider registers. */
    static int smoothl1_cpu_has_avx512(void) {
        __builtin_cpu_init();
        return smoothl1_cpu_has_avx2() && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512bw");
    }
    #else
    static int smoothl1_cpu_has_avx2(void) { return 0; }
    static int smoothl1_cpu_has_avx512(void) { return 0; }
    #endif
    /* Point functions written in C are always inlined: GCC's inliner reaches its growth limit
       in this large module before it inlines Cython functions of their size into every loop,
       and a call left in a loop keeps it scalar (four to ten times slower). */
    #if defined(__GNUC__) || defined(__clang__)
    #define SMOOTHL1_ALWAYS_INLINE static inline __attribute__((always_inline))
    #else
    #define SMOOTHL1_ALWAYS_INLINE static __forceinline
    #endif
    """
    int smoothl1_cpu_has_avx2() noexcept nogil
    int smoothl1_cpu_has_avx512() noexcept nogil
    ctypedef struct fexcept_t:
        pass
    int FE_ALL_EXCEPT
    int fegetexceptflag(fexcept_t* flags, int excepts) noexcept nogil
    int fesetexceptflag(const fexcept_t* flags, int excepts) noexcept nogil
    int fetestexcept(int excepts) noexcept nogil
    int feclearexcept(int excepts) noexcept nogil


# Around pure computation (no NumPy call inside, which could clear flags): the flags raised
# before, then those raised since cleared. Cheaper than fegetexceptflag/fesetexceptflag, which
# save and load the whole x87 environment; the clearing runs only when a flag was raised.
cdef inline int raised_flags() noexcept nogil:
    return fetestexcept(FE_ALL_EXCEPT)


cdef inline void clear_flags_raised_since(int raised_before) noexcept nogil:
    cdef int raised = fetestexcept(FE_ALL_EXCEPT) & ~raised_before
    if raised:
        feclearexcept(raised)
