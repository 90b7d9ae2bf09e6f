/**
 * Standard normal distribution functions for the touch-probability formulas.
 *
 * Math.erf does not exist in JavaScript and the usual short approximations (Abramowitz–Stegun 7.1.26,
 * ~1e-7 absolute) lose every significant digit in the tails, where cell probabilities are differences
 * of nearly equal numbers. So Φ comes from W. J. Cody's rational Chebyshev erfc (CALERF, specfun on
 * netlib; ~1e-15 relative) and Φ₂ from Alan Genz's BVND (2004), the
 * Drezner–Wesolowsky method with 6/12/20-point Gauss–Legendre rules, absolute error ~1e-15.
 * Everything here is pure: no state, no I/O.
 */

const SQRT1_2 = Math.SQRT1_2;
const TWO_PI = 2 * Math.PI;
const SQRT_TWO_PI = Math.sqrt(TWO_PI);
/** 1/√π, Cody's SQRPI. */
const INV_SQRT_PI = 0.56418958354775628695;
/** Cody's XBIG for erfc in IEEE double: erfc(x) underflows to 0 beyond it. */
const ERFC_XBIG = 26.543;

// Cody's coefficients as published (CALERF), |x| <= 0.46875: erf(x) ≈ x · A(x²)/B(x²).
const A = [
  3.1611237438705656, 1.13864154151050156e2, 3.77485237685302021e2, 3.20937758913846947e3, 1.85777706184603153e-1,
];
const B = [2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3, 2.84423683343917062e3];
// 0.46875 < |x| <= 4: erfc(x) ≈ exp(−x²) · C(x)/D(x).
const C = [
  5.64188496988670089e-1, 8.88314979438837594, 6.61191906371416295e1, 2.98635138197400131e2, 8.8195222124176909e2,
  1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3, 2.15311535474403846e-8,
];
const D = [
  1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2, 1.62138957456669019e3, 3.29079923573345963e3,
  4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3,
];
// |x| > 4: erfc(x) ≈ exp(−x²)/x · (1/√π − P(1/x²)/(x²·Q(1/x²))).
const P = [
  3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
  6.58749161529837803e-4, 1.63153871373020978e-2,
];
const Q = [
  2.56852019228982242, 1.87295284992346047, 5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3,
];

/** exp(−y²) without the cancellation error of squaring y: split y = ys + (y − ys), ys on a 1/16 grid. */
function expMinusSquare(y: number): number {
  const ys = Math.trunc(y * 16) / 16;
  const del = (y - ys) * (y + ys);
  return Math.exp(-ys * ys) * Math.exp(-del);
}

/**
 * Complementary error function erfc(x) = 1 − erf(x), Cody's algorithm. Relative accuracy ~1e-15 over
 * the whole line, including the far right tail (it underflows to 0 only past x ≈ 26.5) — which is
 * where `1 − erf(x)` would be useless.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const y = Math.abs(x);
  let result: number;
  if (y <= 0.46875) {
    const ysq = y > 1.11e-16 ? y * y : 0;
    let xnum = A[4]! * ysq;
    let xden = ysq;
    for (let i = 0; i < 3; i++) {
      xnum = (xnum + A[i]!) * ysq;
      xden = (xden + B[i]!) * ysq;
    }
    return 1 - (x * (xnum + A[3]!)) / (xden + B[3]!);
  } else if (y <= 4) {
    let xnum = C[8]! * y;
    let xden = y;
    for (let i = 0; i < 7; i++) {
      xnum = (xnum + C[i]!) * y;
      xden = (xden + D[i]!) * y;
    }
    result = expMinusSquare(y) * ((xnum + C[7]!) / (xden + D[7]!));
  } else if (y >= ERFC_XBIG) {
    result = 0;
  } else {
    const ysq = 1 / (y * y);
    let xnum = P[5]! * ysq;
    let xden = ysq;
    for (let i = 0; i < 4; i++) {
      xnum = (xnum + P[i]!) * ysq;
      xden = (xden + Q[i]!) * ysq;
    }
    const r = (ysq * (xnum + P[4]!)) / (xden + Q[4]!);
    result = (expMinusSquare(y) * (INV_SQRT_PI - r)) / y;
  }
  // Cody computes the right tail; the left one is its reflection.
  return x < 0 ? 2 - result : result;
}

/**
 * Standard normal CDF Φ(x) = erfc(−x/√2)/2. Measured against 40-digit references: relative error
 * ≤ 1e-15 for |x| ≤ 8, growing to ~1e-13 at x = −37 (the rounding of x/√2 costs ~x²·1e-16); below
 * x ≈ −37.5 Φ is subnormal and returned as 0. Φ(x) rounds to exactly 1 for x ≥ ~8.3 (Φ(8) is the
 * double just below 1). Φ(±∞) = 1 / 0; NaN gives NaN.
 */
export function normCdf(x: number): number {
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  return 0.5 * erfc(-x * SQRT1_2);
}

// Gauss–Legendre abscissae and weights on [−1, 1] (positive half), from Genz's BVND.
const GL_X: readonly (readonly number[])[] = [
  [0.9324695142031522, 0.6612093864662647, 0.238619186083197],
  [
    0.9815606342467191, 0.904117256370475, 0.769902674194305, 0.5873179542866171, 0.3678314989981802,
    0.1252334085114692,
  ],
  [
    0.9931285991850949, 0.9639719272779138, 0.9122344282513259, 0.8391169718222188, 0.7463319064601508,
    0.636053680726515, 0.5108670019508271, 0.3737060887154196, 0.2277858511416451, 0.07652652113349733,
  ],
];
const GL_W: readonly (readonly number[])[] = [
  [0.1713244923791705, 0.3607615730481384, 0.4679139345726904],
  [
    0.04717533638651177, 0.1069393259953183, 0.1600783285433464, 0.2031674267230659, 0.2334925365383547,
    0.2491470458134029,
  ],
  [
    0.01761400713915212, 0.04060142980038694, 0.06267204833410906, 0.08327674157670475, 0.1019301198172404,
    0.1181945319615184, 0.1316886384491766, 0.1420961093183821, 0.1491729864726037, 0.1527533871307259,
  ],
];

/**
 * Genz's BVND: P(X > dh, Y > dk) for standard normals with correlation r, for finite dh, dk and
 * r in [−1, 1]. Absolute error ~1e-15. Kept private; callers use `bivariateNormalCdf`.
 */
function bvnu(dh: number, dk: number, r: number): number {
  if (r === 0) return normCdf(-dh) * normCdf(-dk);
  const ar = Math.abs(r);
  // Fewer nodes suffice where the integrand is smooth (small |r|); Genz's accuracy is uniform.
  const ng = ar < 0.3 ? 0 : ar < 0.75 ? 1 : 2;
  const xs = GL_X[ng]!;
  const ws = GL_W[ng]!;
  let h = dh;
  let k = dk;
  let hk = h * k;
  let bvn = 0;
  if (ar < 0.925) {
    // Integrate the density of the correlation angle from 0 to asin(r) (Drezner–Wesolowsky).
    const hs = (h * h + k * k) / 2;
    const asr = Math.asin(r);
    for (let i = 0; i < xs.length; i++) {
      const w = ws[i]!;
      const x = xs[i]!;
      let sn = Math.sin((asr * (1 + x)) / 2);
      bvn += w * Math.exp((sn * hk - hs) / (1 - sn * sn));
      sn = Math.sin((asr * (1 - x)) / 2);
      bvn += w * Math.exp((sn * hk - hs) / (1 - sn * sn));
    }
    return (bvn * asr) / (2 * TWO_PI) + normCdf(-h) * normCdf(-k);
  }
  // |r| near 1: the angle integrand is singular, so integrate in √(1 − r²) after subtracting the
  // leading terms of its asymptotic expansion, then add back the r = ±1 limit.
  if (r < 0) {
    k = -k;
    hk = -hk;
  }
  if (ar < 1) {
    const as = (1 - r) * (1 + r);
    let a = Math.sqrt(as);
    const bs = (h - k) * (h - k);
    const c = (4 - hk) / 8;
    const d = (12 - hk) / 80;
    let asr = -(bs / as + hk) / 2;
    if (asr > -100) bvn = a * Math.exp(asr) * (1 - (c * (bs - as) * (1 - d * bs)) / 3 + c * d * as * as);
    if (hk > -100) {
      const b = Math.sqrt(bs);
      const sp = SQRT_TWO_PI * normCdf(-b / a);
      bvn -= Math.exp(-hk / 2) * sp * b * (1 - (c * bs * (1 - d * bs)) / 3);
    }
    a /= 2;
    let sum = 0;
    for (let i = 0; i < xs.length; i++) {
      for (const x of [1 - xs[i]!, 1 + xs[i]!]) {
        const x2 = (a * x) * (a * x);
        asr = -(bs / x2 + hk) / 2;
        if (asr <= -100) continue;
        const sp = 1 + c * x2 * (1 + 5 * d * x2);
        const rs = Math.sqrt(1 - x2);
        const ep = Math.exp((-(hk / 2) * x2) / ((1 + rs) * (1 + rs))) / rs;
        sum += ws[i]! * Math.exp(asr) * (sp - ep);
      }
    }
    bvn = (a * sum - bvn) / TWO_PI;
  }
  if (r > 0) return bvn + normCdf(-Math.max(h, k));
  if (h >= k) return -bvn;
  const l = h < 0 ? normCdf(k) - normCdf(h) : normCdf(-h) - normCdf(-k);
  return l - bvn;
}

/**
 * Standard bivariate normal CDF Φ₂(x, y; ρ) = P(X ≤ x, Y ≤ y), corr(X, Y) = ρ, by Genz's BVND.
 * The error bound is absolute (~1e-16 measured, ~1e-15 claimed): values far below that, e.g. deep
 * in the joint tail with ρ < 0, are not relatively accurate — irrelevant for prices, which are
 * absolute probabilities. Exact at ρ = 0 (Φ(x)·Φ(y)) and at ρ = ±1 (the degenerate limits
 * Φ(min(x, y)) and max(0, Φ(x) − Φ(−y))), continuous as |ρ| → 1. Infinite x or y are allowed.
 * Throws a RangeError for NaN arguments or ρ outside [−1, 1]: a silent NaN here would become a
 * silent NaN price.
 */
export function bivariateNormalCdf(x: number, y: number, rho: number): number {
  if (Number.isNaN(x) || Number.isNaN(y) || !(rho >= -1 && rho <= 1)) {
    throw new RangeError(`bivariateNormalCdf: bad arguments (${x}, ${y}, ${rho})`);
  }
  if (x === -Infinity || y === -Infinity) return 0;
  if (x === Infinity) return normCdf(y);
  if (y === Infinity) return normCdf(x);
  const p = bvnu(-x, -y, rho);
  return p < 0 ? 0 : p > 1 ? 1 : p;
}
