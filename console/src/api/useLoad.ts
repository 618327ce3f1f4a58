import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export interface Loaded<T> {
  value: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setValue: (value: T) => void;
}

interface Held<T> {
  /** The inputs the value (or error) was loaded for. */
  deps: readonly unknown[];
  value: T | undefined;
  error: unknown;
}

function sameDeps(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((item, i) => Object.is(item, b[i]));
}

/**
 * Runs `load` when `deps` change (and on `reload`), keeping only the latest answer. A value is
 * only ever answered for the inputs it was loaded for: once `deps` change it is gone at once (in
 * that very render), so a page never shows one resource's data beside another's actions. A
 * `reload` keeps the value on screen while the fresh one loads.
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [held, setHeld] = useState<Held<T>>({ deps, value: undefined, error: undefined });
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const latest = useRef(0);
  const depsRef = useRef(deps);
  depsRef.current = deps;

  useEffect(() => {
    const ticket = ++latest.current;
    const asked = deps;
    setLoading(true);
    // A reload of the same inputs keeps their value; new inputs start empty.
    setHeld((current) =>
      sameDeps(current.deps, asked)
        ? { ...current, error: undefined }
        : { deps: asked, value: undefined, error: undefined },
    );
    load().then(
      (result) => {
        if (ticket !== latest.current) return;
        setHeld({ deps: asked, value: result, error: undefined });
        setLoading(false);
      },
      (failure: unknown) => {
        if (ticket !== latest.current) return;
        setHeld((current) => ({
          deps: asked,
          value: sameDeps(current.deps, asked) ? current.value : undefined,
          error: failure,
        }));
        setLoading(false);
      },
    );
    // `load` is a fresh closure each render; `deps` say when it means something new.
  }, [...deps, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const setValue = useCallback((value: T) => setHeld({ deps: depsRef.current, value, error: undefined }), []);
  const current = sameDeps(held.deps, deps);
  return {
    value: current ? held.value : undefined,
    error: current ? held.error : undefined,
    loading: current ? loading : true,
    reload,
    setValue,
  };
}
