/**
 * The admin credential: `Authorization: Bearer <token>`, compared in constant time (the digests
 * of both, so neither the token's length nor a matching prefix shows in the timing).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type AdminCheck = 'ok' | 'not-configured' | 'unauthorized';

export function checkAdmin(req: IncomingMessage, adminToken: string | null): AdminCheck {
  if (adminToken === null) return 'not-configured';
  const header = req.headers.authorization ?? '';
  const match = /^Bearer (.+)$/i.exec(header.trim());
  if (!match) return 'unauthorized';
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(match[1] as string), digest(adminToken)) ? 'ok' : 'unauthorized';
}
