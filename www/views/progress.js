// What a run's progress line says in every view: where it is, its rate and the time left.

/** `label — 3.2 steps/s, about 12 s left`, for `done` of `total` steps since `startedMs`. */
export function progressText(label, done, total, startedMs) {
  const rate = done / ((performance.now() - startedMs) / 1000);
  return `${label} — ${rate.toFixed(1)} steps/s, about ${Math.ceil((total - done) / rate)} s left`;
}
