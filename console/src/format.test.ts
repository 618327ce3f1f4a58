import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatRemaining } from "./format";

describe("formatRemaining (the sandbox countdown)", () => {
  it.each([
    [0, "expired"],
    [-5000, "expired"],
    [999, "0 s"],
    [9_000, "9 s"],
    [64_000, "1 min 04 s"],
    [3_600_000, "1 h 00 min 00 s"],
    [7_384_500, "2 h 03 min 04 s"],
    [90_061_000, "1 d 01 h 01 min 01 s"],
    [Number.NaN, "expired"],
  ])("%d ms -> %s", (ms, text) => {
    expect(formatRemaining(ms)).toBe(text);
  });

  it("formats limits and sizes", () => {
    expect(formatDuration(86_400)).toBe("1 d");
    expect(formatDuration(5_400)).toBe("1 h 30 min");
    expect(formatDuration(0)).toBe("0 s");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(2_097_152)).toBe("2.0 MiB");
  });
});
