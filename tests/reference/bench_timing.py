"""The timing loop the PyTorch competitors of `vksamed bench` share: one warm-up call timed on
its own, then ITERS timed calls under torch.no_grad, printed as the one machine-readable line
apps/vksamed/bench_util.c reads:
  BENCH_TORCH ok first_ms=F median_ms=F min_ms=F iters=N threads=T torch=VERSION
"""
import time


def time_calls(torch, once, iters):
    """once() returns a tensor (checked finite after the warm-up). Returns the exit status."""
    times = []
    with torch.no_grad():
        t0 = time.perf_counter()
        out = once()
        first = time.perf_counter() - t0
        if not torch.isfinite(out).all():
            print("BENCH_TORCH unavailable reason=non-finite_output")
            return 1
        for _ in range(iters):
            t0 = time.perf_counter()
            once()
            times.append(time.perf_counter() - t0)
    times.sort()
    n = len(times)
    med = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    print("BENCH_TORCH ok first_ms=%.3f median_ms=%.3f min_ms=%.3f iters=%d threads=%d torch=%s"
          % (first * 1e3, med * 1e3, times[0] * 1e3, n, torch.get_num_threads(),
             torch.__version__))
    return 0
