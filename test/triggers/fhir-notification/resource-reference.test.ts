import { describe, expect, it } from 'vitest';
import { normalizeSubscription, parseResourceReference } from '../../../src/triggers/fhir-notification/resource-reference.ts';

describe('parseResourceReference', () => {
  it.each([
    ['ImagingStudy/123', { resourceType: 'ImagingStudy', id: '123' }],
    ['ImagingStudy/123/_history/4', { resourceType: 'ImagingStudy', id: '123', versionId: '4' }],
    ['https://fhir.example.org/fhir/ImagingStudy/abc-1', { resourceType: 'ImagingStudy', id: 'abc-1', base: 'https://fhir.example.org/fhir' }],
    ['http://other:8080/baseR4/ImagingStudy/a.b/_history/9', { resourceType: 'ImagingStudy', id: 'a.b', versionId: '9', base: 'http://other:8080/baseR4' }],
    ['ImagingStudy/123?x=1', { resourceType: 'ImagingStudy', id: '123' }],
  ])('parses %s', (reference, expected) => {
    expect(parseResourceReference(reference)).toEqual(expected);
  });

  it.each([undefined, 42, '', 'urn:uuid:8d2f5c1e-0000-4000-8000-000000000000', 'ImagingStudy', 'imagingstudy/1', `ImagingStudy/${'x'.repeat(65)}`])(
    'rejects %s', (reference) => {
      expect(parseResourceReference(reference)).toBeUndefined();
    },
  );
});

describe('normalizeSubscription', () => {
  it('turns bare ids, relative and absolute references into Subscription/<id>', () => {
    expect(normalizeSubscription('sub-1')).toBe('Subscription/sub-1');
    expect(normalizeSubscription('Subscription/sub-1')).toBe('Subscription/sub-1');
    expect(normalizeSubscription('https://fhir.example.org/fhir/Subscription/sub-1')).toBe('Subscription/sub-1');
  });

  it('ignores references to other types and junk', () => {
    expect(normalizeSubscription('Patient/p1')).toBeUndefined();
    expect(normalizeSubscription('a b')).toBeUndefined();
    expect(normalizeSubscription(undefined)).toBeUndefined();
  });
});
