import { describe, expect, it } from "vitest";
import { escapeInvisible, serverTrim, visibleValue } from "./visible";

describe("text anyone controls", () => {
  it("shows control, zero-width and bidi characters as codes", () => {
    expect(escapeInvisible("keyhive-verification=abc")).toBe("keyhive-verification=abc");
    expect(escapeInvisible("a\u200Eb\u202Ec\u2066d\u200Be\uFEFFf")).toBe(
      "a\\u{200E}b\\u{202E}c\\u{2066}d\\u{200B}e\\u{FEFF}f",
    );
    expect(escapeInvisible("a\nb\u0000c\u007Fd\u00A0e f")).toBe(
      "a\\u{000A}b\\u{0000}c\\u{007F}d\\u{00A0}e f",
    );
    // A literal code is not confused with an escaped character.
    expect(escapeInvisible("\\u{200E}")).toBe("\\\\u{200E}");
  });

  it("cuts a long value, stating its full length", () => {
    expect(visibleValue("x".repeat(200))).toEqual({ text: "x".repeat(200), cut: null });
    expect(visibleValue("x".repeat(5000))).toEqual({ text: `${"x".repeat(200)}…`, cut: 5000 });
  });

  it("trims as the API (Rust's str::trim) does", () => {
    expect(serverTrim(" \t abc \n\u3000")).toBe("abc");
    expect(serverTrim("\u0085abc")).toBe("abc");
    // Not whitespace to Rust, though JavaScript's trim strips it.
    expect(serverTrim("\uFEFFabc")).toBe("\uFEFFabc");
    expect(serverTrim("\u200Babc")).toBe("\u200Babc");
  });
});
