import { cleanup } from "@testing-library/preact";
import { afterEach } from "vitest";

// Without vitest globals, testing-library cannot register its own cleanup.
afterEach(() => {
  cleanup();
  sessionStorage.clear();
  localStorage.clear();
  location.hash = "";
});
