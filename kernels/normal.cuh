// Normal draws from Philox words, reproducing engine.NormalAt bit for bit:
// the device math of rand_normal.cu's RandNormal, which rollout_sample.cu's
// SampleAction and SampleTransition repeat.
//
// NormalAt computes the Box–Muller transform in float64 with Go's
// math.Log, math.Cos and math.Sin and rounds the result to float32. Other
// libraries' log, cos and sin differ from Go's in the last bit of the
// double often (glibc's, on 3·10⁶ inputs of these kernels' ranges: 7%, 27%
// and 23% of them), and each such difference changes the float32 result
// with a probability of about 2⁻²⁹; CUDA's would do the same. So this file
// carries Go's algorithms instead, operation for operation, with every
// product rounded on its own (mul_rn) as Go compiles them for amd64 (the
// same 3·10⁶ inputs: no difference in any bit). The draws then equal
// NormalAt's on amd64 exactly. (Go fuses multiply-adds on arm64 and s390x,
// where NormalAt itself may differ in the last double bit and so, that
// rarely, in the float32.)
//
// Like common.cuh, which it includes, it compiles with nvcc and as C++ for
// the CPU (cudaemu), where every kernels/*.cu is one translation unit: it
// defines no kernel, and its guard keeps it to one definition there.
#pragma once

#include "common.cuh"

// go_log is Go's math.Log for amd64 (math/log_amd64.s, the algorithm of
// math/log.go, from FreeBSD's e_log.c) for finite x > 0.
__device__ inline double go_log(double x)
{
    const double Ln2Hi = 6.93147180369123816490e-01, Ln2Lo = 1.90821492927058770002e-10;
    const double L1 = 6.666666666666735130e-01, L2 = 3.999999999940941908e-01, L3 = 2.857142874366239149e-01,
                 L4 = 2.222219843214978396e-01, L5 = 1.818357216161805012e-01, L6 = 1.531383769920937332e-01,
                 L7 = 1.479819860511658591e-01;
    int ki;
    double f1 = frexp(x, &ki);
    if (f1 < 7.07106781186547524401e-01) {  // √2/2
        f1 *= 2;
        ki--;
    }
    double f = f1 - 1, k = ki;
    double s = f / (2 + f);
    double s2 = mul_rn(s, s), s4 = mul_rn(s2, s2);
    double t1 = mul_rn(s2, L1 + mul_rn(s4, L3 + mul_rn(s4, L5 + mul_rn(s4, L7))));
    double t2 = mul_rn(s4, L2 + mul_rn(s4, L4 + mul_rn(s4, L6)));
    double R = t1 + t2;
    double hfsq = mul_rn(mul_rn(0.5, f), f);
    return mul_rn(k, Ln2Hi) - ((hfsq - (mul_rn(s, hfsq + R) + mul_rn(k, Ln2Lo))) - f);
}

// go_sin_poly and go_cos_poly are Cephes' polynomials for sin z and cos z
// on [−π/4, π/4] (zz = z²), evaluated as math/sin.go writes them.
__device__ inline double go_sin_poly(double z, double zz)
{
    double p = 1.58962301576546568060e-10;
    p = mul_rn(p, zz) + -2.50507477628578072866e-8;
    p = mul_rn(p, zz) + 2.75573136213857245213e-6;
    p = mul_rn(p, zz) + -1.98412698295895385996e-4;
    p = mul_rn(p, zz) + 8.33333333332211858878e-3;
    p = mul_rn(p, zz) + -1.66666666666666307295e-1;
    return z + mul_rn(mul_rn(z, zz), p);
}

__device__ inline double go_cos_poly(double zz)
{
    double p = -1.13585365213876817300e-11;
    p = mul_rn(p, zz) + 2.08757008419747316778e-9;
    p = mul_rn(p, zz) + -2.75573141792967388112e-7;
    p = mul_rn(p, zz) + 2.48015872888517045348e-5;
    p = mul_rn(p, zz) + -1.38888888888730564116e-3;
    p = mul_rn(p, zz) + 4.16666666666665929218e-2;
    return (1.0 - mul_rn(0.5, zz)) + mul_rn(mul_rn(zz, zz), p);
}

// go_trig is Go's math.Sin (cosine = false) or math.Cos (cosine = true)
// from math/sin.go for 0 ≤ x < 2²⁹, where Go reduces the argument to an
// octant by Cody–Waite with π/4 in three parts.
__device__ inline double go_trig(double x, bool cosine)
{
    const double PI4A = 7.85398125648498535156e-1, PI4B = 3.77489470793079817668e-8,
                 PI4C = 2.69515142907905952645e-15;
    if (!cosine && x == 0) return x;

    unsigned long long j = (unsigned long long)mul_rn(x, 1.27323954473516268615);  // 4/π
    double y = (double)j;
    if (j & 1) {
        j++;
        y++;
    }
    j &= 7;
    double z = ((x - mul_rn(y, PI4A)) - mul_rn(y, PI4B)) - mul_rn(y, PI4C);
    bool negate = false;
    if (j > 3) {
        j -= 4;
        negate = true;
    }
    if (cosine && j > 1) negate = !negate;

    // In octants 1 and 2 the other function's polynomial applies.
    double zz = mul_rn(z, z);
    double r = (j == 1 || j == 2) != cosine ? go_cos_poly(zz) : go_sin_poly(z, zz);
    return negate ? -r : r;
}

// normal_pair sets z[0] and z[1] to the two draws of RandNormal(mean, std)
// that the words w0, w1 of a Philox block give: with u1 = (w0+1)·2⁻³² ∈
// (0, 1], u2 = w1·2⁻³² and r = √(−2 ln u1), z[0] is mean + std·r·cos(2πu2)
// and z[1] is mean + std·r·sin(2πu2), in double, rounded to float.
__device__ inline void normal_pair(unsigned w0, unsigned w1, float mean, float std, float z[2])
{
    const double two_pow_m32 = 2.3283064365386962890625e-10;  // 2⁻³², exactly
    const double two_pi = 6.28318530717958647693;             // 2π, as Go's 2*math.Pi rounds
    double u1 = ((double)w0 + 1) * two_pow_m32;
    double u2 = w1 * two_pow_m32;
    double r = sqrt(mul_rn(-2.0, go_log(u1)));
    double theta = mul_rn(two_pi, u2);
    z[0] = (float)(mean + mul_rn(std, mul_rn(r, go_trig(theta, true))));
    z[1] = (float)(mean + mul_rn(std, mul_rn(r, go_trig(theta, false))));
}
