/** A link to a URL from API data: only an http(s) URL becomes a link (in a new tab); anything else is text. */
import type { ComponentChildren } from "preact";
import { safeHttpUrl } from "../urls";

interface Props {
  url: string | null | undefined;
  /** What the link reads; the URL itself when absent. */
  children?: ComponentChildren;
  testId?: string;
  class?: string;
}

export function ExternalLink({ url, children, testId, class: className }: Props) {
  const safe = safeHttpUrl(url);
  const text = children ?? url ?? "";
  if (!safe)
    return (
      <span class={className} data-testid={testId} data-unsafe-url="">
        {text}
      </span>
    );
  return (
    <a href={safe} target="_blank" rel="noopener noreferrer" class={className} data-testid={testId}>
      {text}
    </a>
  );
}
