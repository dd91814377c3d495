/**
 * A saturated process, made on purpose: the event loop is kept busy all but a moment every
 * 60 ms, as it would be by more calls than the process can carry (the overload guard's tests).
 */
export function saturateEventLoop(): { stop(): void } {
  const hog = setInterval(() => {
    const until = performance.now() + 60;
    while (performance.now() < until);
  }, 1);
  return { stop: () => clearInterval(hog) };
}
