/** The QR code's options as the form holds them, and the query `GET /short-link/{id}/qr` takes. */
import { KeyhiveError, type QrOptions } from "./api/client";

/** The answers a QR code may be: anything else is never shown nor saved. */
export const QR_TYPES = { png: "image/png", svg: "image/svg+xml" } as const;

/**
 * The QR answer as an image Blob of exactly one of `QR_TYPES` (re-wrapped with that type, so no
 * parameter or sniffing of the answer's own type carries over), or a thrown error naming what
 * came instead, with the request id if the answer had one. `format` asks for that one type.
 */
export function qrImage(blob: Blob, response: Response, format?: keyof typeof QR_TYPES): Blob {
  const declared = response.headers.get("content-type") ?? blob.type;
  const type = (declared.split(";")[0] ?? "").trim().toLowerCase();
  const allowed: string[] = format ? [QR_TYPES[format]] : Object.values(QR_TYPES);
  if (!allowed.includes(type))
    throw new KeyhiveError(
      response.status,
      "UNKNOWN",
      `The QR code answer is ${type ? `of type ${type}` : "of no type"}, not ${allowed.join(" or ")}: it is not shown.`,
      undefined,
      response.headers.get("x-request-id") ?? undefined,
    );
  return new Blob([blob], { type });
}

export interface QrForm {
  format: "png" | "svg";
  /** Pixels, 64..2048, as typed. */
  size: string;
  /** Modules, 0..20, as typed. */
  margin: string;
  /** "" for the API's default. */
  level: "" | "L" | "M" | "Q" | "H";
  /** `#rrggbb`, as `<input type="color">` gives it. */
  fg: string;
  bg: string;
  /** A logo file id, or "". */
  logo: string;
}

export const QR_DEFAULTS: QrForm = {
  format: "png",
  size: "600",
  margin: "2",
  level: "",
  fg: "#000000",
  bg: "#ffffff",
  logo: "",
};

const HEX = /^#?([0-9A-Fa-f]{6})$/;
const FILE_ID = /^fil_[A-Za-z0-9]{24}$/;

export interface QrQuery {
  query: QrOptions;
  /** Field -> what is wrong, checked as the API would (so a bad value is never sent). */
  errors: Partial<Record<keyof QrForm, string>>;
}

function integer(value: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(value.trim())) return null;
  const n = Number(value);
  return n >= min && n <= max ? n : null;
}

/**
 * The query for the form: the API's defaults left out (so equal images share a URL and ETag),
 * colours without `#`, and the level left to the API with a logo (it is always `H` then).
 */
export function qrQuery(form: QrForm, formatOverride?: "png" | "svg"): QrQuery {
  const query: QrOptions = {};
  const errors: QrQuery["errors"] = {};
  const format = formatOverride ?? form.format;
  if (format !== "png") query.format = format;

  const size = integer(form.size, 64, 2048);
  if (size === null) errors.size = "Size is a whole number of pixels from 64 to 2048.";
  else if (size !== 600) query.size = size;

  const margin = integer(form.margin, 0, 20);
  if (margin === null) errors.margin = "Margin is a whole number of modules from 0 to 20.";
  else if (margin !== 2) query.margin = margin;

  const fg = HEX.exec(form.fg)?.[1]?.toLowerCase();
  if (!fg) errors.fg = "The colour is six hex digits.";
  else if (fg !== "000000") query.fg = fg;
  const bg = HEX.exec(form.bg)?.[1]?.toLowerCase();
  if (!bg) errors.bg = "The colour is six hex digits.";
  else if (bg !== "ffffff") query.bg = bg;

  const logo = form.logo.trim();
  if (logo) {
    if (!FILE_ID.test(logo)) errors.logo = "A logo is a file id: fil_ and 24 letters and digits.";
    else query.logo = logo;
    if (form.level && form.level !== "H") errors.level = "With a logo the level is always H.";
  } else if (form.level) {
    query.level = form.level;
  }
  return { query, errors };
}

export function qrFileName(slug: string, format: "png" | "svg"): string {
  return `${slug.replace(/[^A-Za-z0-9_-]/g, "_")}-qr.${format}`;
}
