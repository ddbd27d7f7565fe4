/** Small HTTP helpers of the dashboard: JSON answers and JSON errors, never a thrown request. */
import type { ServerResponse } from 'node:http';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** `{ error: { code, message } }`: `code` is stable (match on it), `message` is for people. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: { code, message } }, headers);
}

export function methodNotAllowed(res: ServerResponse, allowed: string): void {
  sendError(res, 405, 'METHOD_NOT_ALLOWED', `use ${allowed}`, { allow: allowed });
}
