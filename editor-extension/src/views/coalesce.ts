/** Runs `action` once after a burst of calls (a run sends many notifications at once). */
export function coalesce(action: () => void, delayMs = 50): () => void {
  let timer: NodeJS.Timeout | undefined;
  return () => {
    if (timer === undefined) {
      timer = setTimeout(() => {
        timer = undefined;
        action();
      }, delayMs);
    }
  };
}
