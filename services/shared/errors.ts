/**
 * Errors that carry an HTTP status and a stable, machine-readable code.
 * Clients and tests rely on `code`; `message` is prose for humans and may change.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  /** Whether the message may be shown to the client (below 500, and 503 which says "retry"). */
  readonly expose: boolean;

  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.expose = status < 500 || status === 503;
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(400, code, message, details);
export const unauthorized = (code: string, message: string) => new AppError(401, code, message);
export const forbidden = (code: string, message: string) => new AppError(403, code, message);
export const notFound = (code: string, message: string) => new AppError(404, code, message);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(409, code, message, details);
export const tooMany = (code: string, message: string, retryAfterSeconds: number) =>
  new AppError(429, code, message, { retryAfterSeconds });
