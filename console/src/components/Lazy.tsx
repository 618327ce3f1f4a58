/** Renders from a module loaded on first use; the module is kept, so later renders are immediate. */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ErrorBanner } from "./ErrorBanner";

export function lazyModule<M>(load: () => Promise<M>) {
  let cached: M | null = null;
  let pending: Promise<M> | null = null;
  const get = () => {
    pending ??= load().then((m) => (cached = m));
    return pending;
  };
  function Lazy({ render }: { render: (module: M) => ComponentChildren }) {
    const [module, setModule] = useState<M | null>(cached);
    const [error, setError] = useState<unknown>(undefined);
    useEffect(() => {
      if (module) return;
      let live = true;
      get().then(
        (m) => {
          if (!live) return;
          setModule(m);
          // The shell focused the heading on navigation before it existed: focus it now.
          requestAnimationFrame(() => {
            if (document.activeElement === document.body || document.activeElement?.id === "main")
              document.querySelector<HTMLElement>("main h1")?.focus();
          });
        },
        (failure: unknown) => {
          pending = null;
          if (live) setError(failure);
        },
      );
      return () => {
        live = false;
      };
    }, [module]);
    if (module) return <>{render(module)}</>;
    if (error) return <ErrorBanner error={error} />;
    return <p role="status">Loading the page…</p>;
  }
  return Lazy;
}
