/**
 * The API is the page's own origin; under an API Gateway stage the page lives at
 * `/<stage>/console`, so the API's base path is everything before `/console`.
 */
export function apiBasePath(pathname: string): string {
  const at = pathname.search(/\/console(\/|$)/);
  const base = at === -1 ? pathname : pathname.slice(0, at);
  return base.replace(/\/+$/, "");
}

export function apiBaseUrl(location: Pick<Location, "origin" | "pathname">): string {
  return location.origin + apiBasePath(location.pathname);
}
