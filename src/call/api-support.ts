/** What the settings API's handlers share: a refusal that names its field, and body parsing. */
import type { z } from 'zod';

/** An API refusal: its HTTP status, the field at fault (if one is), and the reason. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly field: string | undefined,
    reason: string,
  ) {
    super(reason);
  }
}

/** `body` through `schema`, or a 400 Refusal naming the first field at fault. */
export function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field =
    issue.code === 'unrecognized_keys'
      ? issue.keys[0]
      : issue.path.map(String).join('.') || undefined;
  const reason = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
  throw new Refusal(400, field, reason);
}
