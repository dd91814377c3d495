/** The JSON Schema of the config files, generated from the zod schema so the two never differ. */
import { z } from 'zod';
import { configSchema } from './config-schema.js';

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
  return {
    ...schema,
    $id: 'https://telgate.dev/schema/config.json',
    title: 'telgate config (one or more YAML files merged by top-level section)',
  };
}
