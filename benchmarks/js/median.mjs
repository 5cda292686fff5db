// The peer scripts' timing, as benchmarks/harness.hpp's time_median: one warm-up call, then
// `reps` repetitions that each call fn until minSeconds passed (at least once); the median
// seconds per call.
export async function medianSeconds(fn, reps, minSeconds) {
  await fn();
  const times = [];
  for (let r = 0; r < reps; ++r) {
    const t0 = process.hrtime.bigint();
    let calls = 0;
    let t1 = t0;
    do {
      await fn();
      ++calls;
      t1 = process.hrtime.bigint();
    } while (Number(t1 - t0) / 1e9 < minSeconds);
    times.push(Number(t1 - t0) / 1e9 / calls);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
