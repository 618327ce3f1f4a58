import { act, render, screen, waitFor } from "@testing-library/preact";
import { describe, expect, it } from "vitest";
import { useLoad, type Loaded } from "./useLoad";

/** Answers per id, resolved by the test. */
function deferred() {
  const waiting = new Map<string, (value: string) => void>();
  const load = (id: string) => new Promise<string>((resolve) => waiting.set(id, resolve));
  const answer = (id: string, value: string) => act(() => waiting.get(id)?.(value));
  return { load, answer };
}

describe("useLoad", () => {
  it("never answers one input's value for another, not even in the render the inputs change", async () => {
    const { load, answer } = deferred();
    const renders: { id: string; value: string | undefined; loading: boolean }[] = [];
    let loaded: Loaded<string> | undefined;
    function Probe({ id }: { id: string }) {
      loaded = useLoad(() => load(id), [id]);
      renders.push({ id, value: loaded.value, loading: loaded.loading });
      return <p data-testid="value">{loaded.value ?? "none"}</p>;
    }
    const { rerender } = render(<Probe id="a" />);
    await answer("a", "A's data");
    await waitFor(() => expect(screen.getByTestId("value").textContent).toBe("A's data"));
    renders.length = 0;
    rerender(<Probe id="b" />);
    // Every render for b, from its first, has no value (and says it is loading) until b's answer.
    expect(renders.length).toBeGreaterThan(0);
    expect(renders.every((r) => r.id === "b" && r.value === undefined && r.loading)).toBe(true);
    // A late answer for a is dropped; b's is kept.
    await answer("a", "A again");
    await answer("b", "B's data");
    await waitFor(() => expect(screen.getByTestId("value").textContent).toBe("B's data"));
    // A reload of the same input keeps its value on screen meanwhile.
    renders.length = 0;
    act(() => loaded?.reload());
    expect(renders.some((r) => r.loading && r.value === "B's data")).toBe(true);
    await answer("b", "B's fresh data");
    await waitFor(() => expect(screen.getByTestId("value").textContent).toBe("B's fresh data"));
  });

  it("keeps a value set for the current input, and forgets it with the input", async () => {
    const { load, answer } = deferred();
    let loaded: Loaded<string> | undefined;
    function Probe({ id }: { id: string }) {
      loaded = useLoad(() => load(id), [id]);
      return <p data-testid="value">{loaded.value ?? "none"}</p>;
    }
    const { rerender } = render(<Probe id="a" />);
    await answer("a", "A");
    act(() => loaded?.setValue("A edited"));
    expect(screen.getByTestId("value").textContent).toBe("A edited");
    rerender(<Probe id="b" />);
    expect(screen.getByTestId("value").textContent).toBe("none");
  });
});
