import { describe, expect, it } from "vitest";
import { ID_PATTERNS, isId } from "./ids";
import { parseHash, readQuery } from "./routing";

describe("parseHash", () => {
  it("splits and decodes the path, and reads the query", () => {
    const route = parseHash("#/keys/AbCdEf123456?type=bot");
    expect(route.segments).toEqual(["keys", "AbCdEf123456"]);
    expect(route.query.get("type")).toBe("bot");
    expect(parseHash("#/links/a%20b").segments).toEqual(["links", "a b"]);
  });

  it.each(["#/keys/%E0", "#/keys/%", "#/links/%zz/stats", "#/%E0%A4%A?x=%E0"])(
    "never throws on a malformed escape: %s",
    (hash) => {
      expect(() => parseHash(hash)).not.toThrow();
      // Kept as written: a `%` matches no id.
      expect(parseHash(hash).segments.some((s) => s.includes("%"))).toBe(true);
    },
  );

  it.each([
    ["#/links/../stats", ["links", "stats"]],
    ["#/links/./lnk_Abc123Def456Ghi789Jk", ["links", "lnk_Abc123Def456Ghi789Jk"]],
    ["#/links/%2E%2E/stats", ["links", "stats"]],
    ["#/keys/%2e", ["keys"]],
    ["#/..", []],
  ])("drops . and .. segments: %s", (hash, segments) => {
    expect(parseHash(hash).segments).toEqual(segments);
  });
});

describe("resource ids", () => {
  it("accepts the shapes openapi.yaml gives, and nothing a URL would resolve", () => {
    expect(isId("key", "AbCdEf123456")).toBe(true);
    expect(isId("link", "lnk_Abc123Def456Ghi789Jk")).toBe(true);
    expect(isId("webhook", "whk_Abc123Def456Ghi789Jk")).toBe(true);
    expect(isId("domain", "dom_Abc123Def456Ghi789Jk")).toBe(true);
    expect(isId("file", "fil_Abc123Def456Ghi789Jkl012")).toBe(true);
    expect(isId("sandbox", "sbx_Q3vX9kL2mN8pR4tW6yZ1")).toBe(true);
    expect(isId("delivery", `dlv_${"0a".repeat(16)}`)).toBe(true);
    for (const kind of Object.keys(ID_PATTERNS) as (keyof typeof ID_PATTERNS)[])
      for (const bad of [undefined, "", ".", "..", "stats", "new", "%E0", "a/b"])
        expect(isId(kind, bad)).toBe(false);
    expect(isId("key", "AbCdEf12345")).toBe(false);
    expect(isId("link", "lnk_Abc123Def456Ghi789J/")).toBe(false);
  });
});

describe("readQuery", () => {
  it("reads the named fields, a missing one as empty", () => {
    expect(readQuery(new URLSearchParams("type=bot&other=x"), ["type", "environment"])).toEqual({
      type: "bot",
      environment: "",
    });
  });
});
