/**
 * URLs that come from API data (short URLs, file URLs, link destinations, presigned upload URLs)
 * are checked before the page uses them: an `href` of `javascript:`, `data:` or the like would
 * run or show whatever a stored value says.
 */

/** The URL as an absolute http or https URL (normalized), or null: then show it as text, not a link. */
export function safeHttpUrl(value: string | null | undefined): string | null {
  if (typeof value !== "string" || value.trim() === "") return null;
  let url: URL;
  try {
    // No base: a relative value is not a URL the API would give.
    url = new URL(value.trim());
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (!url.hostname) return null;
  return url.href;
}

/** The loopback hosts a local stack serves plain http from. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase());
}
