/**
 * A ticking time-left. The text is the numbers (`2 h 03 min 04 s`), updated each second; it is a
 * `timer`, whose changes screen readers do not announce (`aria-live="off"`), so a table of them
 * stays quiet. The deadline itself is in the `<time>` beside it.
 */
import { useEffect, useState } from "preact/hooks";
import { formatRemaining, formatTime } from "../format";

/** The current time, refreshed every `intervalMs` while mounted. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export function Countdown({ until, testId = "countdown" }: { until: string; testId?: string }) {
  const now = useNow(1000);
  const deadline = new Date(until).getTime();
  const left = deadline - now;
  return (
    <span class="countdown">
      <span role="timer" aria-live="off" class="countdown-left" data-testid={testId}>
        {formatRemaining(left)}
      </span>
      <span class="muted countdown-until">
        {left > 0 ? "until " : "since "}
        <time dateTime={until}>{formatTime(until)}</time>
      </span>
    </span>
  );
}
