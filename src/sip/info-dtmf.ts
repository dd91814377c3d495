/**
 * DTMF as SIP INFO, as browsers' SIP stacks and many desk phones send it:
 * `application/dtmf-relay` (`Signal=5`, `Duration=160`) or `application/dtmf` (the digit alone).
 * Shared by both engines; any other INFO body is no digit.
 */
export function parseInfoDtmf(
  contentType: string | undefined,
  body: string,
): { digit: string; durationMs: number } | undefined {
  const type = (contentType ?? '').toLowerCase().split(';')[0].trim();
  let digit: string | undefined;
  let durationMs = 0;
  if (type === 'application/dtmf-relay') {
    digit = /^\s*signal\s*=\s*([0-9A-D*#])\s*$/im.exec(body)?.[1];
    durationMs = Number(/^\s*duration\s*=\s*(\d{1,5})\s*$/im.exec(body)?.[1] ?? 0);
  } else if (type === 'application/dtmf') {
    digit = /^\s*([0-9A-D*#])\s*$/i.exec(body)?.[1];
  }
  return digit ? { digit: digit.toUpperCase(), durationMs } : undefined;
}
