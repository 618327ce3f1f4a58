// Fails when clients/typescript/src/schema.d.ts is not what openapi.yaml generates now, so the
// spec, the client and the console cannot drift apart. `npm run generate` brings it up to date.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const consoleDir = dirname(dirname(fileURLToPath(import.meta.url)));
const committed = join(consoleDir, "..", "clients", "typescript", "src", "schema.d.ts");
const scratch = mkdtempSync(join(tmpdir(), "keyhive-client-"));
const fresh = join(scratch, "schema.d.ts");
try {
  execFileSync(
    join(consoleDir, "node_modules", ".bin", "openapi-typescript"),
    ["../openapi.yaml", "--empty-objects-unknown", "--default-non-nullable=false", "-o", fresh],
    { cwd: consoleDir, stdio: ["ignore", "ignore", "inherit"] },
  );
  let current = "";
  try {
    current = readFileSync(committed, "utf8");
  } catch {
    current = "";
  }
  if (readFileSync(fresh, "utf8") !== current) {
    console.error(
      "clients/typescript/src/schema.d.ts is out of date with openapi.yaml.\n" +
        "Run `npm run generate` in console/ and commit the result (then fix what typecheck reports).",
    );
    process.exit(1);
  }
  console.log("clients/typescript/src/schema.d.ts matches openapi.yaml");
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
