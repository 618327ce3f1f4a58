import { describe, expect, it } from "vitest";
import { isLoopbackHost, safeHttpUrl } from "./urls";

describe("safeHttpUrl", () => {
  it("gives absolute http and https URLs, and nothing else", () => {
    expect(safeHttpUrl("https://go.example.com/launch-2026")).toBe("https://go.example.com/launch-2026");
    expect(safeHttpUrl(" http://127.0.0.1:9311/x?y=1 ")).toBe("http://127.0.0.1:9311/x?y=1");
    for (const bad of [
      "javascript:alert(1)",
      "JavaScript:alert(1)",
      " javascript:alert(1)",
      "java\tscript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "vbscript:msgbox",
      "blob:https://go.example.com/x",
      "file:///etc/passwd",
      "//evil.example.com/x",
      "/relative",
      "go.example.com/x",
      "",
      null,
      undefined,
    ])
      expect(safeHttpUrl(bad)).toBeNull();
  });

  it("knows the loopback hosts", () => {
    expect(["127.0.0.1", "localhost", "LOCALHOST", "[::1]"].every(isLoopbackHost)).toBe(true);
    expect(["127.0.0.2.example.com", "localhost.example.com", "0.0.0.0"].some(isLoopbackHost)).toBe(false);
  });
});
