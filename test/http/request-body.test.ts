import { describe, expect, it } from 'vitest';
import { isJsonContentType } from '../../src/http/request-body.ts';

describe('isJsonContentType', () => {
  it.each(['application/fhir+json', 'application/json', 'Application/JSON; charset=UTF-8', 'application/fhir+json; charset="utf-8"', 'application/json;charset=utf8; fhirVersion=4.0'])(
    'accepts %s', (type) => {
      expect(isJsonContentType(type)).toBe(true);
    },
  );

  it.each([undefined, '', 'text/plain', 'application/json-patch+json', 'application/fhir+xml', 'application/json; charset=utf-16'])(
    'refuses %s', (type) => {
      expect(isJsonContentType(type)).toBe(false);
    },
  );
});
