/**
 * The operator's key lives in sessionStorage only: gone with the tab, never in localStorage,
 * a URL or a log.
 */
export const SESSION_KEY_NAME = "keyhive.key";

/** `<prefix>_<live|test>_<12-char key id>.<43-char secret>`, as the API accepts it. */
export const KEY_SHAPE = /^[a-z0-9]+_(live|test)_[A-Za-z0-9]{12}\.[A-Za-z0-9_-]{43}$/;

export function readStoredKey(storage: Storage = sessionStorage): string | null {
  try {
    return storage.getItem(SESSION_KEY_NAME);
  } catch {
    return null;
  }
}

export function storeKey(key: string, storage: Storage = sessionStorage): void {
  storage.setItem(SESSION_KEY_NAME, key);
}

export function clearStoredKey(storage: Storage = sessionStorage): void {
  try {
    storage.removeItem(SESSION_KEY_NAME);
  } catch {
    // Storage unavailable: nothing was kept either.
  }
}

/** The deployment's key prefix (`kh` in `kh_live_…`), read from the signed-in key. */
export function deploymentPrefix(key: string): string {
  return /^([a-z0-9]+)_(live|test)_/.exec(key)?.[1] ?? "kh";
}
