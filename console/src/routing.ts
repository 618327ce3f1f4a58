/**
 * Hash routes (`#/keys?type=bot`): the server serves only `/console`, and a hash keeps the
 * filters in the address so they survive a reload and can be shared.
 */
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** Path segments: `#/keys/AbCdEf123456` -> `["keys", "AbCdEf123456"]`. */
  segments: string[];
  query: URLSearchParams;
}

/**
 * Never throws: a segment with a malformed escape (`%E0`) is kept as written (no id has a `%`,
 * so it names nothing), and `.` and `..` (also escaped) are dropped, as they name no page.
 */
export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "");
  const q = raw.indexOf("?");
  const path = q === -1 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q === -1 ? "" : raw.slice(q + 1));
  const segments = path
    .split("/")
    .map(decodeSegment)
    .filter((s) => s !== "" && s !== "." && s !== "..");
  return { segments, query };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** `readQuery(query, ["type", "environment"])` -> `{ type: "bot", environment: "" }` (missing as ""). */
export function readQuery<Name extends string>(
  query: URLSearchParams,
  names: readonly Name[],
): Record<Name, string> {
  return Object.fromEntries(names.map((name) => [name, query.get(name) ?? ""])) as Record<Name, string>;
}

/** `href("/keys", { type: "bot", environment: "" })` -> `#/keys?type=bot` (empty values dropped). */
export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value) params.set(name, value);
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ""}`;
}

export function navigate(target: string): void {
  if (location.hash !== target) location.hash = target;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    window.addEventListener("hashchange", onChange);
    // The hash may have changed between the first render and now.
    onChange();
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
