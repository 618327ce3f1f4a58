import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { Page } from "../../../clients/typescript/src/index";

export interface CursorList<T> {
  items: T[];
  error: unknown;
  loading: boolean;
  hasMore: boolean;
  loadMore: () => void;
  reload: () => void;
  setItems: (update: (items: T[]) => T[]) => void;
}

/**
 * A list read page by page ("Load more"), following `meta.next_cursor`. Starts over when `deps`
 * change; a page may be empty while `has_more` is true (filtered lists), so it keeps offering more.
 */
export function useCursorList<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  deps: readonly unknown[],
): CursorList<T> {
  const [items, setItemsState] = useState<T[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [cursor, setCursor] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const latest = useRef(0);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;

  const run = useCallback((from: string | undefined, append: boolean) => {
    const ticket = ++latest.current;
    setLoading(true);
    setError(undefined);
    fetchRef.current(from).then(
      (page) => {
        if (ticket !== latest.current) return;
        setItemsState((current) => (append ? [...current, ...page.data] : page.data));
        setCursor(page.meta.has_more ? page.meta.next_cursor : null);
        setLoading(false);
      },
      (failure: unknown) => {
        if (ticket !== latest.current) return;
        setError(failure);
        setLoading(false);
      },
    );
  }, []);

  // `fetchPage` is a fresh closure each render; `deps` say when the list means something new.
  useEffect(() => {
    setItemsState([]);
    setCursor(null);
    run(undefined, false);
  }, [...deps, generation]);

  return {
    items,
    error,
    loading,
    hasMore: cursor !== null,
    loadMore: () => {
      if (cursor) run(cursor, true);
    },
    reload: () => setGeneration((g) => g + 1),
    setItems: (update) => setItemsState(update),
  };
}
