import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigLoader, configSchema } from '../../src/config/config.js';

describe('the configuration schema', () => {
  it('accepts the empty configuration, which ConfigLoader takes without compiling the schema', () => {
    const validate = new Ajv({ allErrors: true, useDefaults: false, strict: false }).compile(configSchema(ALL_POLICIES));
    expect(validate({})).toBe(true);
    expect(new ConfigLoader(ALL_POLICIES).fromObject({})).toEqual(new ConfigLoader(ALL_POLICIES).fromText('policies: {}\nexclusions: []\n'));
  });

  it('and still checks everything else, also after an empty one', () => {
    const loader = new ConfigLoader(ALL_POLICIES);
    loader.fromObject({});
    expect(() => loader.fromObject({ polices: {} })).toThrow('invalid configuration: config: polices: unknown field; remove it or check its spelling');
    expect(() => loader.fromObject([])).toThrow('invalid configuration: config: (top level): must be object');
  });
});
