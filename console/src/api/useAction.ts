import { useState } from "preact/hooks";

/** A change a page makes (a submit, a delete): busy while it runs, and its failure, if any. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  /** Runs `change` (clearing the last error); a failure is kept in `error` and answers false. */
  const run = async (change: () => Promise<void>): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    try {
      await change();
      return true;
    } catch (failure) {
      setError(failure);
      return false;
    } finally {
      setBusy(false);
    }
  };

  return { busy, error, setError, run };
}
