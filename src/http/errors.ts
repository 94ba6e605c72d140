/**
 * The one error shape every route returns: `{"error": {message, type, param, code}}`.
 *
 * @example
 * ```ts
 * import { HttpError, errorBody } from "./errors.ts";
 * errorBody(new HttpError(404, "no such job")); // { error: { message: "no such job", ... } }
 * ```
 */
import { ZodError } from "zod";

const TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  405: "invalid_request_error",
  408: "invalid_request_error",
  413: "invalid_request_error",
  415: "invalid_request_error",
  429: "rate_limit_error",
  499: "cancelled_error",
  500: "server_error",
  503: "server_error",
};

const CODES: Record<number, string> = {
  401: "invalid_api_key",
  403: "forbidden_origin",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  413: "request_too_large",
  415: "unsupported_media_type",
  429: "queue_full",
  499: "cancelled",
  500: "internal_error",
  503: "shutting_down",
};

export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 408 | 413 | 415 | 429 | 499 | 500 | 503,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(err: HttpError): ErrorBody {
  return {
    error: {
      message: err.message,
      type: TYPES[err.status] ?? "server_error",
      param: err.param,
      code: err.code ?? CODES[err.status] ?? null,
    },
  };
}

/** A zod failure as a 400 whose `param` is the first issue's path (e.g. `acceleration.r`). */
export function fromZod(err: ZodError): HttpError {
  const issue = err.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.join(".") : null;
  const where = param ? `${param}: ` : "";
  return new HttpError(
    400,
    `${where}${issue?.message ?? "invalid request"}`,
    param,
    "invalid_value",
  );
}

/** Anything thrown → an HttpError (unknown errors become a 500 without internals). */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof ZodError) return fromZod(err);
  console.error(err);
  return new HttpError(500, "internal error while generating; see the server log");
}
