/** A button copying one value, saying (politely, to screen readers too) whether it worked. */
import { useState } from "preact/hooks";

export function CopyButton({ value, label, testId }: { value: string; label: string; testId?: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const copy = () => {
    navigator.clipboard.writeText(value).then(
      () => setState("copied"),
      () => setState("failed"),
    );
  };
  return (
    <span class="copy">
      <button type="button" class="small" onClick={copy} data-testid={testId}>
        Copy<span class="visually-hidden"> {label}</span>
      </button>
      <span role="status" class="muted copy-status">
        {state === "copied" ? "Copied." : state === "failed" ? "Copy refused: select and copy it." : ""}
      </span>
    </span>
  );
}
