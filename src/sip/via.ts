/** Via header parsing and the RFC 3581 received/rport bookkeeping. */
import { formatParams, parseHostPort, parseParams } from './uri.js';

/** RFC 3261 §8.1.1.7: branches that start with this are globally unique. */
export const BRANCH_MAGIC = 'z9hG4bK';

export interface Via {
  transport: string;
  host: string;
  port?: number;
  params: Map<string, string | null>;
}

export function parseVia(value: string): Via | undefined {
  const m = /^\s*SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+([^;\s]+(?:\s*:\s*\d+)?)\s*(;.*)?$/i.exec(
    value,
  );
  if (!m) return undefined;
  const hp = parseHostPort(m[2].replace(/\s+/g, ''));
  if (!hp) return undefined;
  return { transport: m[1].toUpperCase(), ...hp, params: parseParams(m[3] ?? '') };
}

export function formatVia(via: Via): string {
  const host = via.host.includes(':') ? `[${via.host}]` : via.host;
  const port = via.port ? `:${via.port}` : '';
  return `SIP/2.0/${via.transport} ${host}${port}${formatParams(via.params)}`;
}

export function sentBy(via: Via): string {
  return `${via.host.toLowerCase()}:${via.port ?? 5060}`;
}

export function newBranch(): string {
  return BRANCH_MAGIC + randomToken(16);
}

const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A random token for branches, tags and Call-IDs (not a secret: Math.random is enough). */
export function randomToken(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += TOKEN_CHARS[(Math.random() * TOKEN_CHARS.length) | 0];
  return out;
}
