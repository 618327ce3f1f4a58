import { describe, expect, it } from "vitest";
import { QR_DEFAULTS, qrFileName, qrQuery } from "./qr";

describe("the QR code query", () => {
  it("leaves the API's defaults out", () => {
    expect(qrQuery(QR_DEFAULTS)).toEqual({ query: {}, errors: {} });
  });

  it("sends what differs, colours without # and in lowercase", () => {
    const { query, errors } = qrQuery({
      format: "svg",
      size: "256",
      margin: "0",
      level: "Q",
      fg: "#1B1F24",
      bg: "#FFEEDD",
      logo: "",
    });
    expect(errors).toEqual({});
    expect(query).toEqual({ format: "svg", size: 256, margin: 0, level: "Q", fg: "1b1f24", bg: "ffeedd" });
  });

  it("overrides the format for a download", () => {
    expect(qrQuery({ ...QR_DEFAULTS, format: "svg" }, "png").query).toEqual({});
    expect(qrQuery(QR_DEFAULTS, "svg").query).toEqual({ format: "svg" });
  });

  it("leaves the level to the API with a logo, and refuses another level beside it", () => {
    const logo = "fil_Abc123Def456Ghi789Jkl012";
    expect(qrQuery({ ...QR_DEFAULTS, logo }).query).toEqual({ logo });
    expect(qrQuery({ ...QR_DEFAULTS, logo, level: "H" }).query).toEqual({ logo });
    expect(qrQuery({ ...QR_DEFAULTS, logo, level: "L" }).errors.level).toMatch(/always H/);
  });

  it("names bad values instead of sending them", () => {
    const { query, errors } = qrQuery({
      ...QR_DEFAULTS,
      size: "63",
      margin: "21",
      fg: "red",
      logo: "logo.png",
    });
    expect(Object.keys(errors).sort()).toEqual(["fg", "logo", "margin", "size"]);
    expect(query).toEqual({});
    expect(qrQuery({ ...QR_DEFAULTS, size: "2049" }).errors.size).toBeDefined();
    expect(qrQuery({ ...QR_DEFAULTS, size: "12.5" }).errors.size).toBeDefined();
  });

  it("names downloads after the slug", () => {
    expect(qrFileName("launch-2026", "svg")).toBe("launch-2026-qr.svg");
    expect(qrFileName("a b", "png")).toBe("a_b-qr.png");
  });
});
